//! Token authentication over raw HTTP: the challenge, the token service, and per-repository
//! scopes allowed and denied. Real clients go through it in `clients`.

use berth_image::Digest;
use serde_json::json;

use crate::support::*;

/// alice pushes to team/ and public/, bob only pulls from team/, carol has her own
/// repositories, anyone pulls from public/.
pub const GRANTS: &[&str] = &[
    "team/* alice pull,push",
    "team/* bob pull",
    "public/* alice push",
    "public/* anonymous pull",
    "carol/* carol pull,push",
];
pub const USERS: &[(&str, &str)] = &[("alice", "wonder"), ("bob", "builder"), ("carol", "x")];

pub fn token_server() -> TestServer {
    token_server_with(None)
}

/// A server with [`USERS`] and [`GRANTS`], listening in the network namespace `netns` if given.
pub fn token_server_with(netns: Option<&std::path::Path>) -> TestServer {
    let configure = |config: &mut berth_registry::ServerConfig, dir: &std::path::Path| {
        config.token_auth = Some(access_file(dir, USERS, GRANTS));
    };
    match netns {
        Some(netns) => TestServer::in_netns(netns, configure),
        None => TestServer::with(configure),
    }
}

#[test]
fn requests_without_a_token_are_challenged_with_the_scope_they_need() {
    let server = token_server();
    let http = server.http();
    let realm = format!(
        "Bearer realm=\"http://{}/token\",service=\"berth-registry\"",
        server.addr
    );
    for (method, target, scope) in [
        ("GET", "/v2/", None),
        ("GET", "/v2/_catalog", Some("registry:catalog:*")),
        (
            "GET",
            "/v2/team/app/tags/list",
            Some("repository:team/app:pull"),
        ),
        (
            "HEAD",
            "/v2/team/app/manifests/v1",
            Some("repository:team/app:pull"),
        ),
        (
            "POST",
            "/v2/team/app/blobs/uploads/",
            Some("repository:team/app:pull,push"),
        ),
        (
            "PUT",
            "/v2/team/app/manifests/v1",
            Some("repository:team/app:pull,push"),
        ),
        (
            "DELETE",
            "/v2/team/app/manifests/v1",
            Some("repository:team/app:delete"),
        ),
    ] {
        let reply = http.send(method, target, &[], b"");
        assert_eq!(reply.status, 401, "{method} {target}");
        if method != "HEAD" {
            reply.assert_error(401, "UNAUTHORIZED");
        }
        let expected = match scope {
            Some(scope) => format!("{realm},scope=\"{scope}\""),
            None => realm.clone(),
        };
        assert_eq!(reply.header("www-authenticate"), Some(expected.as_str()));
    }
    // Basic credentials are for the token service, not the registry.
    let basic = server.http().with_basic("alice", "wonder");
    basic.get("/v2/").assert_error(401, "UNAUTHORIZED");
    // A forged token is no token.
    let forged = server
        .http()
        .with_bearer("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.e30.c2ln");
    let reply = forged.get("/v2/");
    reply.assert_error(401, "UNAUTHORIZED");
    assert!(
        reply
            .header("www-authenticate")
            .unwrap()
            .ends_with(",error=\"invalid_token\"")
    );
}

#[test]
fn the_token_service_checks_credentials_and_service() {
    let server = token_server();
    let http = server.http();
    http.clone()
        .with_basic("alice", "guess")
        .get("/token?service=berth-registry&scope=repository:team/app:pull")
        .assert_error(401, "UNAUTHORIZED");
    http.clone()
        .with_basic("mallory", "wonder")
        .get("/token?service=berth-registry")
        .assert_error(401, "UNAUTHORIZED");
    http.get("/token?service=registry.docker.io")
        .assert_error(400, "UNSUPPORTED");
    http.send("POST", "/token", &[], b"grant_type=password")
        .assert_error(405, "UNSUPPORTED");
    // Any valid token opens the base endpoint, an anonymous one too: that is a login check.
    let anonymous = http.token(None, &[]);
    assert_eq!(http.clone().with_bearer(&anonymous).get("/v2/").status, 200);
    let alice = http.token(Some(("alice", "wonder")), &[]);
    assert_eq!(http.clone().with_bearer(&alice).get("/v2/").status, 200);
}

#[test]
fn scopes_allow_and_deny_per_repository_and_action() {
    let server = token_server();
    let http = server.http();
    let alice = http.clone().with_bearer(&http.token(
        Some(("alice", "wonder")),
        &[
            "repository:team/app:pull,push",
            "repository:public/app:push,pull",
        ],
    ));
    let manifest = pushed_image(&alice, "team/app", "v1", OCI_MANIFEST);
    assert_eq!(
        alice
            .put_manifest("team/app", "v1", OCI_MANIFEST, &manifest)
            .status,
        201
    );
    let public = pushed_image(&alice, "public/app", "v1", OCI_MANIFEST);
    assert_eq!(
        alice
            .put_manifest("public/app", "v1", OCI_MANIFEST, &public)
            .status,
        201
    );
    // A token is for the scopes it was issued for, not everything its user may do.
    alice
        .get("/v2/carol/app/tags/list")
        .assert_error(403, "DENIED");
    // Nobody was granted delete.
    let reply = alice.delete(&format!("/v2/team/app/manifests/{}", Digest::of(&manifest)));
    reply.assert_error(403, "DENIED");
    assert_eq!(
        reply.json()["errors"][0]["detail"],
        json!([{"Type": "repository", "Name": "team/app", "Action": "delete"}])
    );

    // bob asks for pull and push on team/app and gets pull only.
    let bob = http
        .clone()
        .with_bearer(&http.token(Some(("bob", "builder")), &["repository:team/app:pull,push"]));
    assert_eq!(bob.get("/v2/team/app/manifests/v1").body, manifest);
    bob.upload("team/app", b"from bob")
        .assert_error(403, "DENIED");
    bob.put_manifest("team/app", "v2", OCI_MANIFEST, &manifest)
        .assert_error(403, "DENIED");
    assert_eq!(
        alice.get("/v2/team/app/tags/list").json()["tags"],
        json!(["v1"])
    );

    // Anonymous: public pulls only; elsewhere a 401 that asks for a login.
    let anonymous = http.clone().with_bearer(&http.token(
        None,
        &[
            "repository:public/app:pull,push",
            "repository:team/app:pull",
        ],
    ));
    assert_eq!(anonymous.get("/v2/public/app/manifests/v1").body, public);
    let reply = anonymous.get("/v2/team/app/manifests/v1");
    reply.assert_error(401, "UNAUTHORIZED");
    assert!(
        reply
            .header("www-authenticate")
            .unwrap()
            .ends_with(",error=\"insufficient_scope\"")
    );
    anonymous
        .upload("public/app", b"anonymous")
        .assert_error(401, "UNAUTHORIZED");

    // carol may push to carol/ but not read team/app: her mount of its layer is an upload.
    let layer = Digest::of(b"layer of v1");
    let carol = http.clone().with_bearer(&http.token(
        Some(("carol", "x")),
        &["repository:carol/app:pull,push", "repository:team/app:pull"],
    ));
    let reply = carol.send(
        "POST",
        &format!("/v2/carol/app/blobs/uploads/?mount={layer}&from=team/app"),
        &[],
        b"",
    );
    assert_eq!(
        reply.status, 202,
        "mounted without pull access to the source"
    );
    carol
        .get(&format!("/v2/carol/app/blobs/{layer}"))
        .assert_error(404, "BLOB_UNKNOWN");
    let alice_mount = http.clone().with_bearer(&http.token(
        Some(("alice", "wonder")),
        &[
            "repository:public/app:pull,push",
            "repository:team/app:pull",
        ],
    ));
    let reply = alice_mount.send(
        "POST",
        &format!("/v2/public/app/blobs/uploads/?mount={layer}&from=team/app"),
        &[],
        b"",
    );
    assert_eq!(reply.status, 201);
}

#[test]
fn the_catalog_lists_what_the_user_may_pull() {
    let server = token_server();
    let http = server.http();
    let alice = http.clone().with_bearer(&http.token(
        Some(("alice", "wonder")),
        &["repository:team/app:push", "repository:public/app:push"],
    ));
    alice.upload("team/app", b"t");
    alice.upload("public/app", b"p");
    let carol = http
        .clone()
        .with_bearer(&http.token(Some(("carol", "x")), &["repository:carol/x:push"]));
    carol.upload("carol/x", b"c");
    let catalog = |user: Option<(&str, &str)>| {
        let token = http.token(user, &["registry:catalog:*"]);
        http.clone().with_bearer(&token).get("/v2/_catalog")
    };
    assert_eq!(
        catalog(Some(("bob", "builder"))).json()["repositories"],
        json!(["public/app", "team/app"])
    );
    assert_eq!(
        catalog(Some(("carol", "x"))).json()["repositories"],
        json!(["carol/x", "public/app"])
    );
    catalog(None).assert_error(401, "UNAUTHORIZED");
}
