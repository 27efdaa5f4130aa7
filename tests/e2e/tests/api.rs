//! The Engine API's wire behaviour: versions, errors, key sets clients index directly.

use berth_testkit::{Daemon, Requirement::*, require};
use serde_json::json;

fn daemon() -> Option<Daemon> {
    require(&[Root, Busybox]).then(|| {
        let d = Daemon::start();
        d.load_busybox();
        d
    })
}

#[test]
fn ping_version_and_negotiation() {
    let Some(d) = daemon() else { return };
    let ping = d.api("GET", "/_ping", None).unwrap();
    assert_eq!((ping.status, ping.text().as_str()), (200, "OK"));
    assert_eq!(ping.header("Api-Version"), Some("1.47"));
    let head = d.api("HEAD", "/_ping", None).unwrap();
    assert_eq!(head.status, 200);
    let v = d.api("GET", "/v1.47/version", None).unwrap().json();
    assert_eq!(v["ApiVersion"], "1.47");
    assert_eq!(v["MinAPIVersion"], "1.24");
    assert_eq!(v["Os"], "linux");
    let too_new = d.api("GET", "/v1.99/version", None).unwrap();
    assert_eq!(too_new.status, 400);
    assert_eq!(
        too_new.json()["message"],
        "client version 1.99 is too new. Maximum supported API version is 1.47"
    );
    let old = d.api("GET", "/v1.24/containers/json", None).unwrap();
    assert_eq!(old.status, 200);
}

#[test]
fn errors_have_docker_codes_and_messages() {
    let Some(d) = daemon() else { return };
    let r = d.api("GET", "/containers/nope/json", None).unwrap();
    assert_eq!(
        (r.status, r.json()["message"].clone()),
        (404, json!("No such container: nope"))
    );
    let r = d.api_json("POST", "/containers/create", &json!({"Image": "nope"}));
    assert_eq!(
        (r.status, r.json()["message"].clone()),
        (404, json!("No such image: nope:latest"))
    );
    let r = d.api_json(
        "POST",
        "/containers/create?name=bad/name",
        &json!({"Image": "busybox"}),
    );
    assert_eq!(r.status, 400);
    let r = d.api_json(
        "POST",
        "/containers/create?name=dup",
        &json!({"Image": "busybox"}),
    );
    assert_eq!(r.status, 201);
    let r = d.api_json(
        "POST",
        "/containers/create?name=dup",
        &json!({"Image": "busybox"}),
    );
    assert_eq!(r.status, 409);
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap()
            .contains("\"/dup\" is already in use")
    );
    let r = d
        .api("POST", "/containers/create", Some(b"{not json"))
        .unwrap();
    assert_eq!(r.status, 400);
    let r = d
        .api(
            "GET",
            "/containers/json?filters=%7B%22bogus%22%3A%5B%22x%22%5D%7D",
            None,
        )
        .unwrap();
    assert_eq!(r.status, 400);
    // A pull from a registry that does not answer (a closed port on loopback: tests never
    // reach beyond this machine) is Docker's 500 with the reason.
    let r = d
        .api(
            "POST",
            "/images/create?fromImage=127.0.0.1:9/nope&tag=latest",
            None,
        )
        .unwrap();
    assert_eq!(r.status, 500, "{}", r.text());
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap()
            .contains("127.0.0.1:9"),
        "{}",
        r.text()
    );
    let r = d.api("DELETE", "/images/nope", None).unwrap();
    assert_eq!(r.status, 404);
}

#[test]
fn responses_carry_the_keys_clients_index() {
    let Some(d) = daemon() else { return };
    let created = d.api_json(
        "POST",
        "/containers/create?name=keys",
        &json!({"Image": "busybox", "Cmd": ["true"], "Labels": {"a": "b"}}),
    );
    assert_eq!(created.status, 201, "{}", created.text());
    let created = created.json();
    assert_eq!(created["Warnings"], json!([]));
    let id = created["Id"].as_str().unwrap().to_string();
    let list = d.api("GET", "/containers/json?all=1", None).unwrap().json();
    let c = &list[0];
    for key in [
        "Id",
        "Names",
        "Image",
        "ImageID",
        "Command",
        "Created",
        "Ports",
        "Labels",
        "State",
        "Status",
        "HostConfig",
        "NetworkSettings",
        "Mounts",
    ] {
        assert!(c.get(key).is_some(), "list lacks {key}: {c}");
    }
    assert_eq!(c["Names"], json!(["/keys"]));
    assert_eq!(c["State"], "created");
    assert_eq!(c["Status"], "Created");
    let i = d
        .api("GET", &format!("/containers/{}/json", &id[..8]), None)
        .unwrap()
        .json();
    for key in [
        "Id",
        "Created",
        "Path",
        "Args",
        "State",
        "Image",
        "Name",
        "RestartCount",
        "HostConfig",
        "GraphDriver",
        "Mounts",
        "Config",
        "NetworkSettings",
    ] {
        assert!(i.get(key).is_some(), "inspect lacks {key}");
    }
    assert_eq!(i["Config"]["Labels"], json!({"a": "b"}));
    assert_eq!(i["State"]["StartedAt"], "0001-01-01T00:00:00Z");
    let images = d.api("GET", "/images/json", None).unwrap().json();
    for img in images.as_array().unwrap() {
        for key in [
            "Id",
            "ParentId",
            "RepoTags",
            "RepoDigests",
            "Created",
            "Size",
            "SharedSize",
            "Labels",
            "Containers",
        ] {
            assert!(img.get(key).is_some(), "image summary lacks {key}");
        }
    }
    let r = d
        .api("POST", &format!("/containers/{id}/start"), None)
        .unwrap();
    assert_eq!(r.status, 204, "{}", r.text());
    let w = d
        .api("POST", &format!("/containers/{id}/wait"), None)
        .unwrap();
    assert_eq!(w.json(), json!({"StatusCode": 0, "Error": null}));
    let logs = d
        .api("GET", &format!("/containers/{id}/logs?stdout=1"), None)
        .unwrap();
    assert_eq!(logs.status, 200);
    let stopped_again = d
        .api("POST", &format!("/containers/{id}/stop"), None)
        .unwrap();
    assert_eq!(stopped_again.status, 304);
}

#[test]
fn logs_are_framed_like_docker() {
    let Some(d) = daemon() else { return };
    let id = d
        .api_json(
            "POST",
            "/containers/create",
            &json!({"Image": "busybox", "Cmd": ["sh", "-c", "echo out; echo err >&2"]}),
        )
        .json()["Id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = d
        .api("POST", &format!("/containers/{id}/start"), None)
        .unwrap();
    assert_eq!(r.status, 204, "{}", r.text());
    d.api("POST", &format!("/containers/{id}/wait"), None)
        .unwrap();
    let logs = d
        .api(
            "GET",
            &format!("/containers/{id}/logs?stdout=1&stderr=1"),
            None,
        )
        .unwrap()
        .body;
    let mut frames = Vec::new();
    let mut rest = logs.as_slice();
    while rest.len() >= 8 {
        let len = u32::from_be_bytes([rest[4], rest[5], rest[6], rest[7]]) as usize;
        frames.push((
            rest[0],
            String::from_utf8_lossy(&rest[8..8 + len]).into_owned(),
        ));
        rest = &rest[8 + len..];
    }
    frames.sort();
    assert_eq!(
        frames,
        vec![(1, "out\n".to_string()), (2, "err\n".to_string())]
    );
    let log_path = d
        .api("GET", &format!("/containers/{id}/json"), None)
        .unwrap()
        .json()["LogPath"]
        .as_str()
        .unwrap()
        .to_string();
    let first: serde_json::Value = serde_json::from_str(
        std::fs::read_to_string(log_path)
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    assert!(first["time"].as_str().unwrap().ends_with('Z'));
    assert!(first["stream"] == "stdout" || first["stream"] == "stderr");
}

#[test]
fn a_killed_berthd_loses_nothing_acknowledged() {
    let Some(mut d) = daemon() else { return };
    let r = d.api_json(
        "POST",
        "/containers/create?name=survivor",
        &json!({"Image": "busybox", "Cmd": ["sleep", "60"]}),
    );
    assert_eq!(r.status, 201);
    let r = d.api("POST", "/containers/survivor/start", None).unwrap();
    assert_eq!(r.status, 204, "{}", r.text());
    d.kill9();
    d.restart();
    let i = d
        .api("GET", "/containers/survivor/json", None)
        .unwrap()
        .json();
    assert_eq!(i["State"]["Running"], true, "the container outlived berthd");
    assert_eq!(
        d.api("POST", "/containers/survivor/kill", None)
            .unwrap()
            .status,
        204
    );
    let w = d
        .api("POST", "/containers/survivor/wait", None)
        .unwrap()
        .json();
    assert_eq!(w["StatusCode"], 137);
    assert_eq!(
        d.api("GET", "/images/busybox/json", None).unwrap().status,
        200
    );
}

#[test]
fn lifecycle_bad_input_is_refused() {
    let Some(d) = daemon() else { return };
    let r = d.api_json(
        "POST",
        "/containers/create?name=sizer",
        &json!({"Image": "busybox", "Cmd": ["sleep", "30"], "Tty": true}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(
        d.api("POST", "/containers/sizer/start", None)
            .unwrap()
            .status,
        204
    );
    assert_eq!(
        d.api("POST", "/containers/sizer/resize?h=40&w=120", None)
            .unwrap()
            .status,
        200
    );
    let absurd = d
        .api("POST", "/containers/sizer/resize?h=99999999&w=-1", None)
        .unwrap();
    assert_eq!(absurd.status, 400, "{}", absurd.text());
    let bad_signal = d
        .api("POST", "/containers/sizer/kill?signal=SIGBOGUS", None)
        .unwrap();
    assert_eq!(bad_signal.status, 400, "{}", bad_signal.text());
    let exec = d.api_json("POST", "/containers/nope/exec", &json!({"Cmd": ["true"]}));
    assert_eq!(exec.status, 404);
    assert_eq!(d.api("GET", "/exec/nope/json", None).unwrap().status, 404);
    assert_eq!(
        d.api("POST", "/containers/sizer/kill", None)
            .unwrap()
            .status,
        204
    );
    d.api("POST", "/containers/sizer/wait", None).unwrap();
    let stopped_exec = d.api_json("POST", "/containers/sizer/exec", &json!({"Cmd": ["true"]}));
    assert_eq!(stopped_exec.status, 409, "{}", stopped_exec.text());
    assert_eq!(
        d.api("DELETE", "/containers/sizer", None).unwrap().status,
        204
    );
    assert_eq!(
        d.api("POST", "/containers/sizer/attach?stream=1&stdout=1", None)
            .unwrap()
            .status,
        404
    );
}
