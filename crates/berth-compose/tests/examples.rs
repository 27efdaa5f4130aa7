//! Real compose files: the Compose Specification's own examples and docker/awesome-compose's
//! projects (tests/fixtures/spec and tests/fixtures/awesome; the README there names the
//! sources). Every fixture loads, unless [`EXPECTED_FAILURES`] lists it with the error it
//! gives and why.
//!
//! Fixture kinds, by name:
//! - `*.yaml`: a whole compose file.
//! - `*.service.yaml`: the keys of one service, as the specification's snippets show them;
//!   loaded as service `example`, over a base file that gives it an image.
//! - `*.alternatives.yaml`: one `key: value` a line, ways of writing the same key; each line
//!   is loaded on its own, as a `*.service.yaml`.
//! - `spec/merge/`: files that only make sense merged, in the groups of [`MERGES`].
//!
//! Each project is loaded from a directory `proj` holding the fixture as `compose.yaml`, the
//! files of [`STUBS`] beside it, and a fixed environment ([`ENV`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use berth_compose::model::{Condition, MountType, Service};
use berth_compose::units::Duration;
use berth_compose::{LoadOptions, Project, load};

/// The process environment every fixture is interpolated with.
const ENV: &[(&str, &str)] = &[
    ("HOME", "/home/u"),
    ("NETWORK_ID", "net-from-env"),
    ("CERTIFICATE_KEY", "cert-from-env"),
    ("DEBUG", "true"),
    ("OAUTH_TOKEN", "t0ken"),
    ("https_proxy", "http://proxy:3128"),
    ("POSTGRES_USER", "pg"),
];

/// Files a fixture refers to (env files, included projects), by the fixture's path; each
/// path is relative to the project directory.
const STUBS: &[(&str, &[(&str, &str)])] = &[
    (
        "spec/05-services-L604.service.yaml",
        &[("default.env", "MODE=default\n")],
    ),
    (
        "spec/05-services-L620.service.yaml",
        &[("default.env", "RAW='${NOT_INTERPOLATED}'\n")],
    ),
    (
        "spec/14-include-L23.yaml",
        &[(
            "my-compose-include.yaml",
            "services:\n  serviceB:\n    image: example/b\n",
        )],
    ),
    (
        "spec/14-include-L46.yaml",
        &[
            (
                "../commons/compose.yaml",
                "services:\n  common:\n    image: example/common\n",
            ),
            (
                "../another_domain/compose.yaml",
                "services:\n  included-service:\n    image: example/included\n",
            ),
        ],
    ),
    (
        "spec/14-include-L67.yaml",
        &[
            (
                "../commons/compose.yaml",
                "services:\n  common:\n    image: example/${TAG}\n    volumes: [./data:/data]\n",
            ),
            ("../another/.env", "TAG=from-another-env\n"),
        ],
    ),
    (
        "spec/14-include-L81.yaml",
        &[
            (
                "../commons/compose.yaml",
                "services:\n  common:\n    image: example/common\n    command: [base]\n",
            ),
            (
                "commons-override.yaml",
                "services:\n  common:\n    command: [override]\n",
            ),
        ],
    ),
    (
        "spec/14-include-L102.yaml",
        &[
            (
                "../another/compose.yaml",
                "services:\n  another:\n    image: example/${TAG}:${VERSION}\n",
            ),
            ("../another/.env", "TAG=another\nVERSION=1\n"),
            ("../another/dev.env", "VERSION=dev\n"),
        ],
    ),
];

/// Fixtures that do not load: the fixture (for an `*.alternatives.yaml`, `file#line`), a part
/// of the error, and why.
const EXPECTED_FAILURES: &[(&str, &str, &str)] = &[
    (
        "spec/05-services-L1151.yaml",
        "services.one: has neither an image nor a build context",
        "the snippet shows label_file only; docker compose refuses it the same way",
    ),
    (
        "spec/05-services-L1259.yaml",
        "services.short_syntax.models: is not supported by berth",
        "models (Docker Model Runner) are not implemented",
    ),
    (
        "spec/models-L24.yaml",
        "services.app.models: is not supported by berth",
        "models (Docker Model Runner) are not implemented",
    ),
    (
        "spec/05-services-L1708.yaml",
        "services.app.pre_start: is not supported by berth",
        "pre_start init containers are not implemented; ignoring them would start the \
         service without its migrations",
    ),
    (
        "spec/05-services-L1400.yaml",
        "services.backend.networks: undefined network \"back-tier\"",
        "the snippet shows interface_name but declares no top-level networks",
    ),
    (
        "spec/05-services-L813.yaml",
        "services.cli.volumes[0]: undefined volume \"cli-volume\"",
        "the snippet shows how extends merges volumes but declares no top-level volumes",
    ),
    (
        "spec/10-fragments-L46.yaml",
        "invalid volume \"db-data\": the target must be an absolute path",
        "the specification's example mounts a volume with no target (`- db-data`)",
    ),
    (
        "spec/11-extension-L57.yaml",
        "services.echoit.depends_on: undefined service \"gateway\"",
        "the snippet depends on a service it does not show",
    ),
    (
        "spec/14-include-L46.yaml",
        "services.webapp: has neither an image nor a build context",
        "the snippet's webapp has only depends_on",
    ),
    (
        "spec/build-L131.yaml",
        "mapping key \"base\" already defined",
        "the specification's example declares service `base` twice",
    ),
    (
        "spec/05-services-L493.service.yaml",
        "CDI device names are not supported by berth",
        "CDI devices (`vendor.com/class=name`) are not implemented",
    ),
];

/// Files merged in order (from spec/merge), and the file the specification gives as the
/// result, with a stub merged last into both (the image and volumes the snippets leave out).
const MERGES: &[(&[&str], &str, &str)] = &[
    (
        &["13-merge-L74.yaml", "13-merge-L80.yaml"],
        "13-merge-L88.yaml",
        "services:\n  foo:\n    image: example/foo\n",
    ),
    (
        &["13-merge-L110.yaml", "13-merge-L117.yaml"],
        "13-merge-L126.yaml",
        "services:\n  foo:\n    image: example/foo\nvolumes:\n  foo: {}\n  bar: {}\n",
    ),
    // The specification's base files for !reset and !override do not indent `app:` under
    // `services:`; the *-fixed.yaml copies do.
    (
        &["13-merge-L146-fixed.yaml", "13-merge-L158.yaml"],
        "13-merge-L169.yaml",
        "name: merge\n",
    ),
    (
        &["13-merge-L185-fixed.yaml", "13-merge-L195.yaml"],
        "13-merge-L204.yaml",
        "name: merge\n",
    ),
];

/// The image the base file gives a `*.service.yaml` snippet.
const BASE: &str = "services:\n  example:\n    image: example/image\n";

fn fixtures_dir() -> PathBuf {
    Path::new(&std::env::var("CARGO_MANIFEST_DIR").expect("cargo test sets it"))
        .join("tests/fixtures")
}

fn env() -> BTreeMap<String, String> {
    ENV.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A temporary directory with `proj/` holding `files` (paths relative to `proj`).
fn project_dir(files: &[(&str, &str)]) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let proj = tmp.path().join("proj");
    std::fs::create_dir_all(&proj).unwrap();
    for (name, content) in files {
        let p = proj.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }
    (tmp, proj)
}

fn load_files(proj: &Path, files: &[&str]) -> berth_compose::Result<Project> {
    load(&LoadOptions {
        files: files.iter().map(PathBuf::from).collect(),
        working_dir: Some(proj.to_path_buf()),
        os_env: Some(env()),
        ..LoadOptions::default()
    })
}

/// A service snippet as a compose file: its lines indented under `services.example`.
fn service_file(snippet: &str) -> String {
    let mut out = String::from("services:\n  example:\n");
    for line in snippet.lines() {
        if !line.trim().is_empty() {
            out.push_str("    ");
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

/// Loads one compose file (or service snippet) with the stubs of `fixture`.
fn load_text(fixture: &str, text: &str, snippet: bool) -> berth_compose::Result<Project> {
    let stubs = STUBS
        .iter()
        .find(|(f, _)| *f == fixture)
        .map_or(&[][..], |(_, s)| *s);
    let mut files = stubs.to_vec();
    let service;
    if snippet {
        service = service_file(text);
        files.extend([("base.yaml", BASE), ("compose.yaml", service.as_str())]);
    } else {
        files.push(("compose.yaml", text));
    }
    let (_tmp, proj) = project_dir(&files);
    let order: &[&str] = if snippet {
        &["base.yaml", "compose.yaml"]
    } else {
        &["compose.yaml"]
    };
    load_files(&proj, order)
}

/// Loads a fixture that must load, by its path under tests/fixtures.
fn fixture(name: &str) -> Project {
    let text = std::fs::read_to_string(fixtures_dir().join(name)).unwrap();
    load_text(name, &text, name.ends_with(".service.yaml"))
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Every fixture to load on its own, with the text of each case: `name`, or `name#line` for
/// each line of an alternatives file.
fn cases() -> Vec<(String, String, bool)> {
    let mut out = Vec::new();
    for dir in ["spec", "awesome"] {
        let mut names: Vec<String> = std::fs::read_dir(fixtures_dir().join(dir))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".yaml"))
            .collect();
        names.sort();
        for n in names {
            let name = format!("{dir}/{n}");
            let text = std::fs::read_to_string(fixtures_dir().join(&name)).unwrap();
            if n.ends_with(".alternatives.yaml") {
                for (i, line) in text.lines().enumerate() {
                    if !line.trim().is_empty() {
                        out.push((format!("{name}#{}", i + 1), line.trim().to_string(), true));
                    }
                }
            } else {
                let snippet = n.ends_with(".service.yaml");
                out.push((name, text, snippet));
            }
        }
    }
    out
}

#[test]
fn every_example_loads_or_fails_as_expected() {
    let mut problems = Vec::new();
    let mut loaded = 0;
    let cases = cases();
    for (name, text, snippet) in &cases {
        let stub_key = name.split('#').next().unwrap();
        let expected = EXPECTED_FAILURES.iter().find(|(f, _, _)| f == name);
        match (load_text(stub_key, text, *snippet), expected) {
            (Ok(_), None) => loaded += 1,
            (Ok(_), Some((_, want, why))) => {
                problems.push(format!(
                    "{name}: loads, but should fail with {want:?} ({why})"
                ));
            }
            (Err(e), None) => problems.push(format!("{name}: {e}")),
            (Err(e), Some((_, want, _))) if !e.to_string().contains(want) => {
                problems.push(format!("{name}: fails with {e}, not {want:?}"));
            }
            (Err(_), Some(_)) => {}
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert_eq!(loaded + EXPECTED_FAILURES.len(), cases.len());
    assert!(loaded >= 90, "only {loaded} examples loaded");
}

#[test]
fn the_tables_name_fixtures_that_exist() {
    let names: Vec<String> = cases().into_iter().map(|(n, _, _)| n).collect();
    for (f, _, _) in EXPECTED_FAILURES {
        assert!(names.iter().any(|n| n == f), "{f}");
    }
    for (f, _) in STUBS {
        assert!(names.iter().any(|n| n == f), "{f}");
    }
    for (inputs, result, _) in MERGES {
        for f in inputs.iter().chain([result]) {
            assert!(fixtures_dir().join("spec/merge").join(f).is_file(), "{f}");
        }
    }
}

#[test]
fn merges_give_the_results_the_specification_shows() {
    let dir = fixtures_dir().join("spec/merge");
    for (inputs, result, stub) in MERGES {
        let (_tmp, proj) = project_dir(&[("stub.yaml", stub)]);
        let mut merged: Vec<String> = inputs
            .iter()
            .map(|f| dir.join(f).display().to_string())
            .collect();
        merged.push("stub.yaml".into());
        let merged: Vec<&str> = merged.iter().map(String::as_str).collect();
        let got = load_files(&proj, &merged).unwrap_or_else(|e| panic!("{inputs:?}: {e}"));
        let want_file = dir.join(result).display().to_string();
        let want = load_files(&proj, &[&want_file, "stub.yaml"]).unwrap();
        assert_eq!(got.services, want.services, "{inputs:?} -> {result}");
    }
}

fn secs(n: i64) -> Duration {
    Duration(n * 1_000_000_000)
}

fn service<'a>(p: &'a Project, name: &str) -> &'a Service {
    p.service(name)
        .unwrap_or_else(|| panic!("no service {name}"))
}

#[test]
fn ports_short_and_long_syntax() {
    let p = fixture("spec/05-services-L1615.service.yaml");
    let ports: Vec<String> = service(&p, "example")
        .ports
        .iter()
        .map(|p| {
            format!(
                "{}|{}|{}|{}",
                p.host_ip.as_deref().unwrap_or(""),
                p.published.as_deref().unwrap_or(""),
                p.target,
                p.protocol
            )
        })
        .collect();
    // Ranges are expanded to one port each, as docker compose config prints them.
    assert!(ports.contains(&"|8000|8000|tcp".to_string()), "{ports:?}");
    assert!(ports.contains(&"|9091|8081|tcp".to_string()), "{ports:?}");
    assert!(
        ports.contains(&"127.0.0.1|5010|5010|tcp".to_string()),
        "{ports:?}"
    );
    assert!(
        ports.contains(&"::1|6000|6000|tcp".to_string()),
        "{ports:?}"
    );
    assert!(
        ports.contains(&"::1|6001|6001|tcp".to_string()),
        "{ports:?}"
    );
    assert!(ports.contains(&"|6060|6060|udp".to_string()), "{ports:?}");
    assert!(
        ports.contains(&"|8000-9000|80|tcp".to_string()),
        "{ports:?}"
    );

    let p = fixture("spec/05-services-L1649.service.yaml");
    let web = &service(&p, "example").ports;
    assert_eq!(web.len(), 2);
    assert_eq!(web[1].name.as_deref(), Some("web-secured"));
    assert_eq!(web[1].published.as_deref(), Some("8083-9000"));
    assert_eq!(web[1].app_protocol.as_deref(), Some("https"));
    assert_eq!(web[1].mode, "host");
}

#[test]
fn volumes_long_syntax_and_top_level_volumes() {
    let p = fixture("spec/05-services-L2100.yaml");
    let v = &service(&p, "backend").volumes;
    assert_eq!(v[0].kind, MountType::Volume);
    assert_eq!(v[0].source.as_deref(), Some("db-data"));
    let opts = v[0].volume.as_ref().unwrap();
    assert!(opts.nocopy);
    assert_eq!(opts.subpath.as_deref(), Some("sub"));
    assert_eq!(v[1].kind, MountType::Bind);
    assert_eq!(v[1].target, "/var/run/postgres/postgres.sock");
    assert_eq!(p.volumes["db-data"].name, "proj_db-data");

    let p = fixture("spec/07-volumes-L134.yaml");
    let v = &p.volumes["db-data"];
    assert!(v.external);
    assert_eq!(v.name, "actual-name-of-volume");

    let p = fixture("spec/07-volumes-L51.yaml");
    assert_eq!(
        p.volumes["example"].driver_opts["device"],
        ":/docker/example"
    );
}

#[test]
fn depends_on_conditions_and_profiles() {
    let p = fixture("spec/05-services-L436.yaml");
    let deps = &service(&p, "web").depends_on;
    assert_eq!(deps["db"].condition, Condition::ServiceHealthy);
    assert!(deps["db"].restart);
    assert_eq!(deps["redis"].condition, Condition::ServiceStarted);
    assert!(!deps["redis"].restart);

    // Without a profile only foo runs; bar, baz and zot wait for theirs.
    let p = fixture("spec/15-profiles-L22.yaml");
    assert_eq!(p.services.keys().collect::<Vec<_>>(), ["foo"]);
    assert_eq!(p.disabled_services.len(), 3);
}

#[test]
fn networks_aliases_addresses_and_priorities() {
    let p = fixture("spec/05-services-L1364.yaml");
    let backend = &service(&p, "backend").networks;
    let aliases = |net: &str| backend[net].as_ref().unwrap().aliases.clone();
    assert_eq!(aliases("back-tier"), ["database"]);
    assert_eq!(aliases("admin"), ["mysql"]);
    assert_eq!(p.networks["front-tier"].name, "proj_front-tier");

    let p = fixture("spec/05-services-L1423.yaml");
    let n = service(&p, "frontend").networks["front-tier"]
        .clone()
        .unwrap();
    assert_eq!(n.ipv4_address.as_deref(), Some("172.16.238.10"));
    assert_eq!(n.ipv6_address.as_deref(), Some("2001:3984:3989::10"));
    assert_eq!(
        p.networks["front-tier"].ipam.as_ref().unwrap().config.len(),
        2
    );

    // The specification's example leaves out the network it joins.
    let name = "spec/05-services-L1400.yaml";
    let text = std::fs::read_to_string(fixtures_dir().join(name)).unwrap();
    let p = load_text(
        name,
        &format!("{text}networks:\n  back-tier: {{}}\n"),
        false,
    )
    .unwrap();
    let n = service(&p, "backend").networks["back-tier"]
        .clone()
        .unwrap();
    assert_eq!(n.interface_name.as_deref(), Some("eth0"));

    let p = fixture("spec/05-services-L1494.yaml");
    let n = service(&p, "app").networks["app_net_2"].clone().unwrap();
    assert_eq!(n.priority, Some(1));

    // An external network keeps its name (here interpolated), and the default network its own.
    let p = fixture("spec/06-networks-L260.yaml");
    assert!(p.networks["network1"].external);
    assert_eq!(p.networks["network1"].name, "net-from-env");
    let p = fixture("spec/06-networks-L85.yaml");
    assert_eq!(p.networks["default"].name, "a_network");
    let p = fixture("spec/06-networks-L139.yaml");
    assert_eq!(p.networks["ip6net"].enable_ipv6, Some(true));
    assert!(p.warnings.iter().any(|w| w.contains("enable_ipv4")));
}

#[test]
fn healthcheck_durations_and_stop_grace_period() {
    let p = fixture("spec/05-services-L1015.service.yaml");
    let h = service(&p, "example").healthcheck.clone().unwrap();
    assert_eq!(h.test, ["CMD", "curl", "-f", "http://localhost"]);
    assert_eq!(h.interval, Some(secs(90)));
    assert_eq!(h.timeout, Some(secs(10)));
    assert_eq!(h.start_interval, Some(secs(5)));
    assert_eq!(h.retries, Some(3));
    let p = fixture("spec/05-services-L1050.service.yaml");
    assert!(service(&p, "example").healthcheck.as_ref().unwrap().disable);
}

#[test]
fn deploy_resources_and_restart_policy() {
    let p = fixture("spec/deploy-L112.yaml");
    let r = service(&p, "frontend")
        .deploy
        .clone()
        .unwrap()
        .resources
        .unwrap();
    let limits = r.limits.unwrap();
    assert_eq!(limits.cpus, Some(0.5));
    assert_eq!(limits.memory.map(|m| m.0), Some(50 << 20));
    assert_eq!(limits.pids, Some(1));
    assert_eq!(r.reservations.unwrap().memory.map(|m| m.0), Some(20 << 20));

    let p = fixture("spec/deploy-L24.yaml");
    assert_eq!(service(&p, "frontend").replicas(), 2);
    assert!(p.warnings.iter().any(|w| w.contains("endpoint_mode")));

    let p = fixture("spec/deploy-L237.service.yaml");
    let rp = service(&p, "example")
        .deploy
        .clone()
        .unwrap()
        .restart_policy
        .unwrap();
    assert_eq!(rp.condition.as_deref(), Some("on-failure"));
    assert_eq!(rp.max_attempts, Some(3));
    assert_eq!(rp.window, Some(secs(120)));
}

#[test]
fn secrets_and_configs() {
    let p = fixture("spec/05-services-L1922.yaml");
    let s = &service(&p, "frontend").secrets[0];
    assert_eq!(s.target.as_deref(), Some("server.cert"));
    assert_eq!(s.uid.as_deref(), Some("103"));
    assert_eq!(s.mode, Some(0o440));
    assert!(p.secrets["server-certificate"].external);
    assert_eq!(p.secrets["server-certificate"].name, "server-certificate");

    // YAML 1.1's 0440 is octal too.
    let p = fixture("spec/05-services-L292.yaml");
    assert_eq!(service(&p, "redis").configs[0].mode, Some(0o440));

    let p = fixture("spec/09-secrets-L55.yaml");
    assert_eq!(p.secrets["server-certificate"].name, "cert-from-env");
    let p = fixture("spec/09-secrets-L34.yaml");
    assert_eq!(
        p.secrets["token"].environment.as_deref(),
        Some("OAUTH_TOKEN")
    );
    // Inline content is interpolated, the project name included.
    let p = fixture("spec/08-configs-L51.yaml");
    let content = p.configs["app_config"].content.clone().unwrap();
    assert!(content.contains("debug=true\n"), "{content}");
    assert!(
        content.contains("spring.application.name=proj\n"),
        "{content}"
    );
}

#[test]
fn the_project_name_is_exposed_as_compose_project_name() {
    let p = fixture("spec/04-version-and-name-L22.yaml");
    let foo = service(&p, "foo");
    assert_eq!(
        foo.command.as_deref().unwrap(),
        ["echo", "I'm running proj"]
    );
    assert_eq!(
        foo.environment["COMPOSE_PROJECT_NAME"].as_deref(),
        Some("proj")
    );
}

#[test]
fn extends_and_fragments() {
    let p = fixture("spec/05-services-L782.yaml");
    let env = &service(&p, "cli").environment;
    assert_eq!(env["TZ"].as_deref(), Some("utc"));
    assert_eq!(env["PORT"].as_deref(), Some("8080"));
    // extends through a service that extends another.
    let p = fixture("spec/05-services-L841.yaml");
    assert_eq!(service(&p, "cli").user.as_deref(), Some("root"));
    // Sequences like security_opt are appended.
    let p = fixture("spec/05-services-L875.yaml");
    assert_eq!(
        service(&p, "cli").security_opt,
        ["label:role:ROLE", "label:user:USER"]
    );

    // `<<` merges one mapping or several.
    let p = fixture("spec/10-fragments-L67.yaml");
    let env = &service(&p, "second").environment;
    assert_eq!(env["FOO"].as_deref(), Some("BAR"));
    assert_eq!(env["YET_ANOTHER"].as_deref(), Some("VARIABLE"));
    let p = fixture("spec/11-extension-L94.yaml");
    let env = &service(&p, "frontend").environment;
    assert_eq!(env["ZOT"].as_deref(), Some("QUIX"));
    assert_eq!(env["KEY"].as_deref(), Some("VALUE"));
}

#[test]
fn include_brings_in_other_projects() {
    let p = fixture("spec/14-include-L23.yaml");
    assert!(p.services.contains_key("serviceB"));
    assert!(service(&p, "serviceA").depends_on.contains_key("serviceB"));

    // The included project's own env file interpolates it; its relative paths resolve
    // against the project_directory it is given.
    let p = fixture("spec/14-include-L67.yaml");
    let common = service(&p, "common");
    assert_eq!(common.image.as_deref(), Some("example/from-another-env"));
    let source = common.volumes[0].source.clone().unwrap();
    assert!(
        source.ends_with("/data") && !source.contains("commons"),
        "{source}"
    );

    let p = fixture("spec/14-include-L81.yaml");
    assert_eq!(
        service(&p, "common").command.as_deref().unwrap(),
        ["override"]
    );

    // Later env files win.
    let p = fixture("spec/14-include-L102.yaml");
    assert_eq!(
        service(&p, "another").image.as_deref(),
        Some("example/another:dev")
    );
}

#[test]
fn awesome_compose_projects() {
    let p = fixture("awesome/nginx-golang-postgres.yaml");
    let backend = service(&p, "backend");
    assert_eq!(
        backend.depends_on["db"].condition,
        Condition::ServiceHealthy
    );
    assert!(!p.secrets.is_empty());

    let p = fixture("awesome/postgresql-pgadmin.yaml");
    // Variables unset in the environment become empty, with a warning.
    assert!(
        p.warnings.iter().any(|w| w.contains("PGADMIN_MAIL")),
        "{:?}",
        p.warnings
    );
}
