//! Services planned as Engine API create requests.

use std::collections::BTreeMap;
use std::path::Path;

use berth_compose::plan::container::{Instance, plan};
use berth_compose::plan::{config_hash, labels};
use berth_compose::{LoadOptions, Project, load};
use bollard::models::{MountType, PortBinding, RestartPolicyNameEnum};

fn load_dir(dir: &Path) -> Project {
    load(&LoadOptions {
        working_dir: Some(dir.to_path_buf()),
        os_env: Some(BTreeMap::from([(
            "HOME".to_string(),
            "/home/u".to_string(),
        )])),
        ..LoadOptions::default()
    })
    .unwrap()
}

#[test]
fn golden_web_service_as_a_create_request() {
    let dir = Path::new(
        &std::env::var("CARGO_MANIFEST_DIR").expect("cargo test sets CARGO_MANIFEST_DIR"),
    )
    .join("tests/fixtures/golden");
    let p = load_dir(&dir);
    let web = &p.services["web"];
    let inst = Instance {
        number: 2,
        image_id: Some("sha256:abc".into()),
        anonymous_volumes: BTreeMap::from([("/cache".to_string(), "kept-volume".to_string())]),
        ..Instance::default()
    };
    let c = plan(&p, "web", web, &inst).unwrap();
    assert_eq!(c.name, "golden-web-2");
    let b = &c.body;
    assert_eq!(b.image.as_deref(), Some("busybox:1.36"));
    assert_eq!(b.cmd.as_deref().unwrap(), ["sh", "-c", "echo \"hi there\""]);
    assert_eq!(
        b.env.as_deref().unwrap(),
        ["FROM_ENV=from-dotenv", "MODE=prod", "WEB_ENV=1"]
    );
    assert_eq!(b.stop_timeout, Some(90));
    let l = b.labels.as_ref().unwrap();
    assert_eq!(l[labels::PROJECT], "golden");
    assert_eq!(l[labels::SERVICE], "web");
    assert_eq!(l[labels::CONTAINER_NUMBER], "2");
    assert_eq!(l[labels::ONEOFF], "False");
    assert_eq!(l[labels::CONFIG_HASH], config_hash(web));
    assert_eq!(l[labels::IMAGE], "sha256:abc");
    assert_eq!(l[labels::DEPENDS_ON], "db:service_started:false");
    assert_eq!(l[labels::WORKING_DIR], dir.display().to_string());
    assert_eq!(l["tier"], "front");
    assert_eq!(
        b.exposed_ports.as_deref().unwrap(),
        ["443/tcp", "80/tcp", "9000/udp", "9001/udp"]
    );
    let hc = b.healthcheck.as_ref().unwrap();
    assert_eq!(
        hc.test.as_deref().unwrap(),
        ["CMD-SHELL", "wget -q -O- localhost || exit 1"]
    );
    assert_eq!(hc.interval, Some(90_000_000_000));
    assert_eq!(hc.retries, Some(3));

    let h = b.host_config.as_ref().unwrap();
    let ports = h.port_bindings.as_ref().unwrap();
    assert_eq!(
        ports["80/tcp"],
        Some(vec![PortBinding {
            host_ip: None,
            host_port: Some("8080".into())
        }])
    );
    assert_eq!(
        ports["9001/udp"],
        Some(vec![PortBinding {
            host_ip: Some("127.0.0.1".into()),
            host_port: Some("9001".into())
        }])
    );
    assert_eq!(
        h.binds.as_deref().unwrap(),
        [format!("{}/html:/www:ro", dir.display())]
    );
    let mounts: Vec<(Option<MountType>, Option<&str>, Option<&str>)> = h
        .mounts
        .as_ref()
        .unwrap()
        .iter()
        .map(|m| (m.typ, m.source.as_deref(), m.target.as_deref()))
        .collect();
    assert_eq!(
        mounts,
        [
            (Some(MountType::VOLUME), Some("golden_data"), Some("/data")),
            (Some(MountType::VOLUME), Some("kept-volume"), Some("/cache")),
            (Some(MountType::TMPFS), None, Some("/tmp")),
        ]
    );
    let tmpfs = h.mounts.as_ref().unwrap()[2]
        .tmpfs_options
        .as_ref()
        .unwrap();
    assert_eq!(tmpfs.size_bytes, Some(64 << 20));
    assert_eq!(
        h.restart_policy.as_ref().unwrap().name,
        Some(RestartPolicyNameEnum::UNLESS_STOPPED)
    );
    assert_eq!(h.memory, Some(256 << 20));
    assert_eq!(h.nano_cpus, Some(500_000_000));
    assert_eq!(
        h.extra_hosts.as_deref().unwrap(),
        ["somehost:162.242.195.82"]
    );
    let ulimits: Vec<(String, i64, i64)> = h
        .ulimits
        .as_ref()
        .unwrap()
        .iter()
        .map(|u| (u.name.clone().unwrap(), u.soft.unwrap(), u.hard.unwrap()))
        .collect();
    assert_eq!(
        ulimits,
        [("nofile".into(), 1024, 2048), ("nproc".into(), 64, 64)]
    );

    // Created on one network (the API before 1.44 takes one), joined to the others after.
    assert_eq!(h.network_mode.as_deref(), Some("golden_back"));
    let eps = b
        .networking_config
        .as_ref()
        .unwrap()
        .endpoints_config
        .as_ref()
        .unwrap();
    assert_eq!(eps["golden_back"].aliases.as_deref().unwrap(), ["web"]);
    assert_eq!(c.extra_networks.len(), 1);
    assert_eq!(c.extra_networks[0].0, "golden_front");
    assert_eq!(
        c.extra_networks[0].1.aliases.as_deref().unwrap(),
        ["web", "www"]
    );
}

#[test]
fn oneoff_network_modes_secrets_and_configs() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("token.txt"), "s3cret").unwrap();
    std::fs::write(
        d.path().join("compose.yaml"),
        r#"
name: p
services:
  db:
    image: busybox
    container_name: the-db
  web:
    image: busybox
    network_mode: service:db
    ipc: service:db
    volumes_from: [db:ro]
    secrets: [token]
    configs:
      - source: greeting
        target: /etc/greeting
        mode: 0440
    restart: on-failure:3
secrets:
  token: {file: ./token.txt}
configs:
  greeting: {content: hello}
"#,
    )
    .unwrap();
    let p = load_dir(d.path());
    let web = &p.services["web"];
    let c = plan(
        &p,
        "web",
        web,
        &Instance {
            number: 1,
            oneoff_slug: Some("0123456789abcdef".into()),
            ..Instance::default()
        },
    )
    .unwrap();
    assert_eq!(c.name, "p-web-run-0123456789ab");
    let l = c.body.labels.as_ref().unwrap();
    assert_eq!(l[labels::ONEOFF], "True");
    assert_eq!(l[labels::SLUG], "0123456789abcdef");
    let h = c.body.host_config.as_ref().unwrap();
    assert_eq!(h.network_mode.as_deref(), Some("container:the-db"));
    assert_eq!(h.ipc_mode.as_deref(), Some("container:the-db"));
    assert_eq!(h.volumes_from.as_deref().unwrap(), ["the-db:ro"]);
    assert!(c.body.networking_config.is_none());
    let rp = h.restart_policy.as_ref().unwrap();
    assert_eq!(rp.name, Some(RestartPolicyNameEnum::ON_FAILURE));
    assert_eq!(rp.maximum_retry_count, Some(3));
    let m = &h.mounts.as_ref().unwrap()[0];
    assert_eq!(
        (m.source.as_deref(), m.target.as_deref(), m.read_only),
        (
            Some(d.path().join("token.txt").to_str().unwrap()),
            Some("/run/secrets/token"),
            Some(true)
        )
    );
    assert_eq!(c.uploads.len(), 1);
    assert_eq!(c.uploads[0].target, "/etc/greeting");
    assert_eq!(c.uploads[0].content, b"hello");
    assert_eq!(c.uploads[0].mode, 0o440);
    // The dependency is implied by network_mode, ipc and volumes_from.
    assert!(web.dependencies().contains_key("db"));
}

#[test]
fn interface_names_and_external_secrets() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(
        d.path().join("compose.yaml"),
        r#"
name: p
services:
  web:
    image: busybox
    networks:
      back:
        interface_name: eth7
        driver_opts: {foo: bar}
  uses-external:
    image: busybox
    secrets: [cert]
networks:
  back: {}
secrets:
  cert: {external: true}
"#,
    )
    .unwrap();
    let p = load_dir(d.path());
    let c = plan(&p, "web", &p.services["web"], &Instance::default()).unwrap();
    let endpoints = c.body.networking_config.unwrap().endpoints_config.unwrap();
    let opts = endpoints["p_back"].driver_opts.clone().unwrap();
    assert_eq!(opts["com.docker.network.endpoint.ifname"], "eth7");
    assert_eq!(opts["foo"], "bar");

    // An external secret loads (`config` prints it) but no container can use it.
    let e = plan(
        &p,
        "uses-external",
        &p.services["uses-external"],
        &Instance::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("cert is external"), "{e}");
}
