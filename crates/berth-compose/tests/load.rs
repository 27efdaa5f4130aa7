//! Loading projects from files: discovery, merging, names, environment, interpolation,
//! profiles, extends, include, validation errors, and `config`'s normalized output.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use berth_compose::model::{Condition, MountType};
use berth_compose::plan::{config_hash, graph};
use berth_compose::{LoadOptions, Project, config, load};

/// A project directory with these files.
fn dir(files: &[(&str, &str)]) -> tempfile::TempDir {
    let d = tempfile::Builder::new()
        .prefix("Compose Test.")
        .tempdir()
        .unwrap();
    for (name, content) in files {
        let p = d.path().join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }
    d
}

fn env(vars: &[(&str, &str)]) -> BTreeMap<String, String> {
    vars.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .chain([("HOME".to_string(), "/home/u".to_string())])
        .collect()
}

fn opts(dir: &Path) -> LoadOptions {
    LoadOptions {
        working_dir: Some(dir.to_path_buf()),
        os_env: Some(env(&[])),
        ..LoadOptions::default()
    }
}

fn load_dir(dir: &Path) -> Project {
    load(&opts(dir)).unwrap()
}

fn load_err(files: &[(&str, &str)]) -> String {
    let d = dir(files);
    load(&opts(d.path())).unwrap_err().to_string()
}

#[test]
fn discovery_walks_up_and_merges_the_override_file() {
    let d = dir(&[
        ("compose.yaml", "services:\n  a:\n    image: busybox\n"),
        (
            "compose.override.yaml",
            "services:\n  a:\n    command: [sleep, '1']\n",
        ),
        (
            "docker-compose.yml",
            "services:\n  ignored:\n    image: x\n",
        ),
        ("sub/deeper/.keep", ""),
    ]);
    let p = load(&LoadOptions {
        working_dir: Some(d.path().join("sub/deeper")),
        ..opts(d.path())
    })
    .unwrap();
    assert_eq!(p.services.keys().collect::<Vec<_>>(), ["a"]);
    assert_eq!(p.services["a"].command.as_deref().unwrap(), ["sleep", "1"]);
    assert_eq!(
        p.config_files,
        [
            d.path().join("compose.yaml"),
            d.path().join("compose.override.yaml")
        ]
    );
    assert_eq!(p.working_dir, d.path());
    // The directory name, normalized: "Compose Test.xyz" -> "composetestxyz".
    assert!(p.name.starts_with("composetest"), "{}", p.name);

    let empty = dir(&[]);
    let e = load(&opts(empty.path())).unwrap_err().to_string();
    assert!(e.contains("no configuration file provided"), "{e}");
}

#[test]
fn project_name_precedence() {
    let d = dir(&[
        (
            "compose.yaml",
            "name: from-file\nservices:\n  a: {image: x}\n",
        ),
        (".env", "COMPOSE_PROJECT_NAME=from-dotenv\n"),
    ]);
    assert_eq!(load_dir(d.path()).name, "from-dotenv");
    let o = LoadOptions {
        os_env: Some(env(&[("COMPOSE_PROJECT_NAME", "from-env")])),
        ..opts(d.path())
    };
    assert_eq!(load(&o).unwrap().name, "from-env");
    let o = LoadOptions {
        project_name: Some("flag".into()),
        ..o
    };
    assert_eq!(load(&o).unwrap().name, "flag");
    let o = LoadOptions {
        project_name: Some("Bad Name".into()),
        ..opts(d.path())
    };
    assert!(
        load(&o)
            .unwrap_err()
            .to_string()
            .contains("invalid project name")
    );

    let d = dir(&[(
        "compose.yaml",
        "name: from-file\nservices:\n  a: {image: x}\n",
    )]);
    let p = load_dir(d.path());
    assert_eq!(p.name, "from-file");
    assert_eq!(p.networks["default"].name, "from-file_default");
}

#[test]
fn several_files_merge_by_the_specification_rules() {
    let d = dir(&[
        (
            "a.yaml",
            r#"
services:
  web:
    image: busybox
    command: [echo, base]
    environment: [A=1, B=2]
    labels: {x: "1"}
    ports: ["8080:80", "9000:9000"]
    volumes: ["./src:/src", "data:/data"]
    dns: 1.1.1.1
    networks: [front]
    build: ./ctx
    logging: {driver: json-file, options: {max-size: 1m}}
networks: {front: {}}
volumes: {data: {}}
"#,
        ),
        (
            "b.yaml",
            r#"
services:
  web:
    command: [echo, override]
    environment: {B: "3", C: "4"}
    labels: ["y=2"]
    ports: ["8081:80", {target: 9000, published: "9000", protocol: tcp, host_ip: ""}]
    volumes: ["other:/data", "./more:/more"]
    dns: [8.8.8.8, 1.1.1.1]
    networks: {front: {aliases: [w]}}
    build: {dockerfile: Other.Dockerfile}
    logging: {options: {max-file: "3"}}
    cap_add: !reset []
  extra:
    image: x
volumes: {other: {}}
"#,
        ),
    ]);
    let p = load(&LoadOptions {
        files: vec!["a.yaml".into(), "b.yaml".into()],
        ..opts(d.path())
    })
    .unwrap();
    let web = &p.services["web"];
    assert_eq!(web.command.as_deref().unwrap(), ["echo", "override"]);
    let envs: Vec<(&str, Option<&str>)> = web
        .environment
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_deref()))
        .collect();
    assert_eq!(envs, [("A", Some("1")), ("B", Some("3")), ("C", Some("4"))]);
    assert_eq!(web.labels.len(), 2);
    let ports: Vec<String> = web
        .ports
        .iter()
        .map(|p| format!("{:?}:{}", p.published, p.target))
        .collect();
    assert_eq!(
        ports,
        [
            "Some(\"8080\"):80",
            "Some(\"9000\"):9000",
            "Some(\"8081\"):80"
        ]
    );
    let targets: Vec<(&str, Option<&str>)> = web
        .volumes
        .iter()
        .map(|v| (v.target.as_str(), v.source.as_deref()))
        .collect();
    let d_src = d.path().join("src").display().to_string();
    let d_more = d.path().join("more").display().to_string();
    assert_eq!(
        targets,
        [
            ("/src", Some(d_src.as_str())),
            ("/data", Some("other")),
            ("/more", Some(d_more.as_str()))
        ]
    );
    assert_eq!(web.dns, ["1.1.1.1", "8.8.8.8"]);
    assert_eq!(web.networks["front"].as_ref().unwrap().aliases, ["w"]);
    let build = web.build.as_ref().unwrap();
    assert_eq!(
        (build.context.as_str(), build.dockerfile.as_str()),
        (d.path().join("ctx").to_str().unwrap(), "Other.Dockerfile")
    );
    let logging = web.logging.as_ref().unwrap();
    assert_eq!(logging.options.len(), 2);
    assert!(p.services.contains_key("extra"));
}

#[test]
fn reset_and_override_tags() {
    let d = dir(&[
        (
            "compose.yaml",
            "services:\n  a:\n    image: x\n    ports: ['1:1']\n    environment: {A: '1', B: '2'}\n",
        ),
        (
            "compose.override.yaml",
            "services:\n  a:\n    ports: !reset []\n    environment: !override {C: '3'}\n",
        ),
    ]);
    let a = &load_dir(d.path()).services["a"];
    assert!(a.ports.is_empty());
    assert_eq!(a.environment.keys().collect::<Vec<_>>(), ["C"]);
}

#[test]
fn environment_files_and_interpolation() {
    let d = dir(&[
        (
            "compose.yaml",
            r#"
services:
  a:
    image: "busybox:${TAG}"
    ports: ["${PORT:-8000}:80"]
    environment:
      FROM_DOTENV: $DOTENV
      LITERAL: "$$HOME"
      UNSET_IN_FILE:
      WITH_ALT: ${DOTENV:+yes}
    env_file: [{path: ./missing.env, required: false}, vars.env]
    deploy: {replicas: "${REPLICAS}"}
"#,
        ),
        (".env", "TAG=1.36\nDOTENV=dot\nREPLICAS=3\n"),
        ("vars.env", "FROM_FILE=${TAG}-x\nFROM_DOTENV=overridden\n"),
        ("other.env", "TAG=other\nDOTENV=o\nREPLICAS=1\n"),
    ]);
    let o = LoadOptions {
        os_env: Some(env(&[("PORT", "9999"), ("UNSET_IN_FILE", "os")])),
        ..opts(d.path())
    };
    let p = load(&o).unwrap();
    let a = &p.services["a"];
    assert_eq!(a.image.as_deref(), Some("busybox:1.36"));
    assert_eq!(a.ports[0].published.as_deref(), Some("9999"));
    let e = |k: &str| a.environment.get(k).cloned().flatten();
    assert_eq!(e("FROM_DOTENV").as_deref(), Some("dot"));
    assert_eq!(e("LITERAL").as_deref(), Some("$HOME"));
    assert_eq!(e("UNSET_IN_FILE").as_deref(), Some("os"));
    assert_eq!(e("WITH_ALT").as_deref(), Some("yes"));
    assert_eq!(e("FROM_FILE").as_deref(), Some("1.36-x"));
    assert_eq!(a.replicas(), 3);
    assert_eq!(p.env_files, [d.path().join(".env")]);

    // --env-file replaces .env; the process environment still wins.
    let p = load(&LoadOptions {
        env_files: vec!["other.env".into()],
        ..o
    })
    .unwrap();
    assert_eq!(p.services["a"].image.as_deref(), Some("busybox:other"));
    assert_eq!(p.services["a"].replicas(), 1);

    let e = load_err(&[(
        "compose.yaml",
        "services:\n  a:\n    image: ${IMAGE:?set IMAGE}\n",
    )]);
    assert!(
        e.ends_with("compose.yaml:3:12: services.a.image: required variable IMAGE is missing a value: set IMAGE"),
        "{e}"
    );
}

#[test]
fn profiles_enable_services() {
    let files = [(
        "compose.yaml",
        r#"
services:
  app: {image: x}
  debug: {image: x, profiles: [debug], depends_on: [helper]}
  helper: {image: x, profiles: [tools]}
  all: {image: x, profiles: [debug, tools]}
"#,
    )];
    let d = dir(&files);
    let names = |p: &Project| p.services.keys().cloned().collect::<Vec<_>>();
    let p = load_dir(d.path());
    assert_eq!(names(&p), ["app"]);
    assert!(p.disabled_services.contains_key("debug"));

    let p = load(&LoadOptions {
        profiles: vec!["tools".into()],
        ..opts(d.path())
    })
    .unwrap();
    assert_eq!(names(&p), ["all", "app", "helper"]);

    let p = load(&LoadOptions {
        os_env: Some(env(&[("COMPOSE_PROFILES", "debug,tools")])),
        ..opts(d.path())
    })
    .unwrap();
    assert_eq!(names(&p), ["all", "app", "debug", "helper"]);

    // Naming a service enables it and what it depends on.
    let p = load(&LoadOptions {
        services: vec!["debug".into()],
        ..opts(d.path())
    })
    .unwrap();
    assert_eq!(names(&p), ["app", "debug", "helper"]);

    // A required dependency left disabled is an error.
    let e = load(&LoadOptions {
        profiles: vec!["debug".into()],
        ..opts(d.path())
    })
    .unwrap_err()
    .to_string();
    assert!(e.contains("\"helper\" is required by \"debug\""), "{e}");
}

#[test]
fn extends_same_file_other_file_and_chains() {
    let d = dir(&[
        (
            "compose.yaml",
            r#"
services:
  base:
    image: busybox
    environment: {A: "1"}
    volumes: ["./data:/data"]
  mid:
    extends: base
    environment: {B: "2"}
  web:
    extends: {service: mid}
    command: [echo, web]
  remote:
    extends: {file: lib/common.yaml, service: shared}
    labels: {own: "yes"}
"#,
        ),
        (
            "lib/common.yaml",
            "services:\n  root:\n    image: alpine\n    env_file: common.env\n  shared:\n    extends: root\n    build: ./ctx\n    labels: {from: lib}\n",
        ),
        ("lib/common.env", "C=3\n"),
    ]);
    let p = load_dir(d.path());
    let web = &p.services["web"];
    assert_eq!(web.image.as_deref(), Some("busybox"));
    assert_eq!(web.environment.len(), 2);
    assert_eq!(web.command.as_deref().unwrap(), ["echo", "web"]);
    assert_eq!(
        web.volumes[0].source.as_deref(),
        Some(d.path().join("data").to_str().unwrap())
    );
    let remote = &p.services["remote"];
    assert_eq!(remote.image.as_deref(), Some("alpine"));
    // Paths of the other file are relative to its directory.
    assert_eq!(
        remote.build.as_ref().unwrap().context,
        d.path().join("lib/ctx").display().to_string()
    );
    assert_eq!(
        remote.environment.get("C").cloned().flatten().as_deref(),
        Some("3")
    );
    assert_eq!(remote.labels.len(), 2);

    let e = load_err(&[(
        "compose.yaml",
        "services:\n  a:\n    image: x\n    extends: b\n  b:\n    extends: a\n",
    )]);
    assert!(e.contains("circular extends"), "{e}");
    let e = load_err(&[(
        "compose.yaml",
        "services:\n  a:\n    image: x\n    extends: nope\n",
    )]);
    assert!(e.contains("cannot extend service \"nope\""), "{e}");
}

#[test]
fn include_loads_other_projects() {
    let d = dir(&[
        (
            "compose.yaml",
            "include:\n  - db/compose.yaml\n  - path: cache.yaml\n    env_file: cache.env\nservices:\n  web:\n    image: x\n    depends_on: [db]\n",
        ),
        (
            "db/compose.yaml",
            "services:\n  db:\n    image: postgres:${PG}\n    volumes: [./data:/var/lib/postgresql]\nvolumes:\n  unused: {}\n",
        ),
        ("db/.env", "PG=16\n"),
        (
            "cache.yaml",
            "services:\n  cache:\n    image: redis:${REDIS}\n",
        ),
        ("cache.env", "REDIS=7\n"),
    ]);
    let p = load_dir(d.path());
    assert_eq!(p.services["db"].image.as_deref(), Some("postgres:16"));
    assert_eq!(
        p.services["db"].volumes[0].source.as_deref(),
        Some(d.path().join("db/data").to_str().unwrap())
    );
    assert_eq!(p.services["cache"].image.as_deref(), Some("redis:7"));
    assert!(p.volumes.contains_key("unused"));

    let e = load_err(&[
        (
            "compose.yaml",
            "include: [other.yaml]\nservices:\n  a: {image: x}\n",
        ),
        ("other.yaml", "services:\n  a: {image: y}\n"),
    ]);
    assert!(
        e.contains("services.a: conflicts with a definition imported by include"),
        "{e}"
    );
    let e = load_err(&[
        (
            "compose.yaml",
            "include: [other.yaml]\nservices:\n  a: {image: x}\n",
        ),
        (
            "other.yaml",
            "include: [compose.yaml]\nservices:\n  b: {image: y}\n",
        ),
    ]);
    assert!(e.contains("include cycle"), "{e}");
}

#[test]
fn errors_name_file_line_and_key() {
    let cases: &[(&str, &str)] = &[
        (
            "services:\n  web:\n    image: x\n    ports:\n      - \"x\"\n",
            "compose.yaml:5:9: services.web.ports[0]: invalid port \"x\"",
        ),
        (
            "services:\n  web:\n    image: x\n    imagee: y\n",
            "compose.yaml:4:5: services.web: unknown key \"imagee\"",
        ),
        (
            "services:\n  web:\n    image: x\n    restart: sometimes\n",
            "compose.yaml:4:14: services.web.restart: invalid restart policy \"sometimes\"",
        ),
        (
            "services:\n  web:\n    image: x\n    tty: maybe\n",
            "compose.yaml:4:10: services.web.tty: must be a boolean, not \"maybe\"",
        ),
        (
            "services:\n  web:\n    image: x\n    mem_limit: lots\n",
            "services.web.mem_limit: invalid size \"lots\"",
        ),
        (
            "services:\n  web:\n    image: x\n    healthcheck:\n      interval: 10\n",
            "services.web.healthcheck.interval: invalid duration \"10\": missing unit",
        ),
        (
            "services:\n  web:\n    image: x\n    volumes: [\"data\"]\n",
            "services.web.volumes[0]: invalid volume \"data\": the target must be an absolute path",
        ),
        (
            "services:\n  web:\n    image: x\n    environment: 5\n",
            "services.web.environment: must be a mapping or a sequence, not a scalar",
        ),
        (
            "services:\n  web:\n    image: x\n    depends_on:\n      db: {condition: service_ready}\n",
            "services.web.depends_on.db.condition: invalid condition \"service_ready\"",
        ),
        (
            "services:\n  web:\n    image: x\n    depends_on: [db]\n",
            "services.web.depends_on: undefined service \"db\"",
        ),
        (
            "services:\n  web:\n    image: x\n    volumes: [\"data:/d\"]\n",
            "services.web.volumes[0]: undefined volume \"data\"",
        ),
        (
            "services:\n  web:\n    image: x\n    networks: [front]\n",
            "services.web.networks: undefined network \"front\"",
        ),
        (
            "services:\n  web:\n    command: [x]\n",
            "services.web: has neither an image nor a build context",
        ),
        (
            "services:\n  a: {image: x, depends_on: [b]}\n  b: {image: x, depends_on: [a]}\n",
            "dependency cycle detected: a -> b -> a",
        ),
        (
            "services:\n  web:\n    image: x\n    container_name: one\n    scale: 2\n",
            "services.web.container_name: \"one\" is set, so the service cannot be scaled to 2",
        ),
        (
            "services:\n  web:\n    image: x\n  web:\n    image: y\n",
            "compose.yaml:4:3: mapping key \"web\" already defined at line 2",
        ),
        (
            "services: [a, b]\n",
            "compose.yaml:1:11: services: must be a mapping, not a sequence",
        ),
        ("services:\n  web: {image: x\n", "compose.yaml:3:1:"),
        ("", "compose.yaml is empty"),
        (
            "foo: 1\nservices: {a: {image: x}}\n",
            "compose.yaml:1:1: unknown key \"foo\"",
        ),
        (
            "services:\n  web:\n    image: x\n    ports:\n      - target: 80\n        published: nope\n",
            "compose.yaml:6:20: services.web.ports[0].published: invalid port \"nope\"",
        ),
        (
            "services: {a: {image: x}}\nsecrets:\n  s: {external: true, file: ./s}\n",
            "secrets.s: an external one has no file, environment or content",
        ),
        (
            "services:\n  web:\n    image: x\n    pre_start: [{command: [migrate]}]\n",
            "compose.yaml:4:5: services.web.pre_start: is not supported by berth",
        ),
        (
            "services: {a: {image: x}}\nmodels:\n  m: {model: ai/m}\n",
            "compose.yaml:2:1: models: is not supported by berth",
        ),
    ];
    for (yaml, want) in cases {
        let e = load_err(&[("compose.yaml", yaml)]);
        assert!(e.contains(want), "for {yaml:?}\n got: {e}\nwant: {want}");
    }
}

#[test]
fn warnings_for_obsolete_and_unset() {
    let d = dir(&[(
        "compose.yaml",
        "version: '3'\nservices:\n  a:\n    image: x${NOPE}\n    gpus: all\n",
    )]);
    let p = load_dir(d.path());
    assert_eq!(p.services["a"].image.as_deref(), Some("x"));
    let w = p.warnings.join("\n");
    assert!(w.contains("`version` is obsolete"), "{w}");
    assert!(w.contains("\"NOPE\" variable is not set"), "{w}");
    assert!(w.contains("services.a.gpus is not supported"), "{w}");
}

fn golden_dir() -> PathBuf {
    Path::new(&std::env::var("CARGO_MANIFEST_DIR").expect("cargo test sets CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/golden")
}

#[test]
fn config_output_is_docker_compose_normalized_form() {
    let dir = golden_dir();
    let p = load(&LoadOptions {
        os_env: Some(env(&[])),
        working_dir: Some(dir.clone()),
        ..LoadOptions::default()
    })
    .unwrap();
    let out = config::to_yaml(&p).replace(dir.to_str().unwrap(), "${DIR}");
    let golden_path = dir.join("config.yaml");
    if std::env::var_os("BERTH_UPDATE_GOLDEN").is_some() {
        std::fs::write(&golden_path, &out).unwrap();
    }
    let want = std::fs::read_to_string(&golden_path).unwrap();
    assert_eq!(
        out,
        want,
        "config output differs from {}",
        golden_path.display()
    );

    // The output is itself a valid compose file that loads to the same model.
    let copy = tempfile::tempdir().unwrap();
    std::fs::write(copy.path().join("compose.yaml"), config::to_yaml(&p)).unwrap();
    let again = load(&LoadOptions {
        os_env: Some(env(&[])),
        working_dir: Some(copy.path().to_path_buf()),
        project_directory: Some(dir.clone()),
        env_files: vec![dir.join(".env")],
        ..LoadOptions::default()
    })
    .unwrap();
    for (name, s) in &p.services {
        assert_eq!(config_hash(s), config_hash(&again.services[name]), "{name}");
    }
    let json: serde_json::Value = serde_json::from_str(&config::to_json(&p)).unwrap();
    assert_eq!(json["services"]["web"]["ports"][0]["published"], "8080");
}

#[test]
fn golden_project_model() {
    let p = load(&LoadOptions {
        os_env: Some(env(&[])),
        working_dir: Some(golden_dir()),
        ..LoadOptions::default()
    })
    .unwrap();
    assert_eq!(graph::order(&p, &[]).unwrap(), ["init", "db", "web"]);
    assert_eq!(
        graph::order(&p, &["db".to_string()]).unwrap(),
        ["init", "db"]
    );
    let web = &p.services["web"];
    assert_eq!(web.replicas(), 2);
    assert_eq!(web.depends_on["db"].condition, Condition::ServiceStarted);
    assert_eq!(
        p.services["db"].depends_on["init"].condition,
        Condition::ServiceCompletedSuccessfully
    );
    assert_eq!(web.ports.len(), 4);
    assert_eq!(web.volumes[2].kind, MountType::Volume);
    assert!(web.volumes[2].source.is_none());
    assert_eq!(p.volumes["data"].name, "golden_data");
    assert!(p.disabled_services.contains_key("debug"));
}

#[test]
fn config_hash_follows_the_configuration() {
    let d = dir(&[(
        "compose.yaml",
        "services:\n  a:\n    image: x\n    environment:\n      - A=${A}\n    scale: ${N}\n",
    )]);
    let hash = |a: &str, n: &str| {
        let p = load(&LoadOptions {
            os_env: Some(env(&[("A", a), ("N", n)])),
            ..opts(d.path())
        })
        .unwrap();
        config_hash(&p.services["a"])
    };
    assert_eq!(hash("1", "1"), hash("1", "3"));
    assert_ne!(hash("1", "1"), hash("2", "1"));
}

/// Damaged versions of the golden file (cut short anywhere, any value replaced by a value of
/// another type) load or fail with an error; nothing panics.
#[test]
fn damaged_files_never_panic() {
    let text = std::fs::read_to_string(golden_dir().join("compose.yaml")).unwrap();
    let d = dir(&[("web.env", "A=1\n"), ("html/.keep", "")]);
    let try_load = |yaml: &str| {
        std::fs::write(d.path().join("compose.yaml"), yaml).unwrap();
        let _ = load(&opts(d.path()));
    };
    for cut in (0..text.len()).filter(|&i| text.is_char_boundary(i)) {
        try_load(&text[..cut]);
    }
    let lines: Vec<&str> = text.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        let Some((key, _)) = line.split_once(": ").or_else(|| line.split_once("- ")) else {
            continue;
        };
        for other in [
            "[]",
            "{}",
            "~",
            "\"\"",
            "-1",
            "99999999999999999999",
            "[[1]]",
            "{a: [b]}",
            "!reset",
            "\"${X:?}\"",
        ] {
            let mut damaged = lines.clone();
            let replaced = format!("{key}: {other}");
            damaged[i] = &replaced;
            try_load(&damaged.join("\n"));
        }
    }
}
