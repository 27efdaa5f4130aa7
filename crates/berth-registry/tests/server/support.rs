//! A berth registry server in-process on 127.0.0.1:0, and a raw HTTP/1.1 client that sends
//! exactly the bytes a test writes (no path normalisation, no automatic retries).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use base64::Engine as _;
use berth_image::Digest;
use berth_registry::{Server, ServerConfig};
use serde_json::{Value, json};
use tokio::sync::oneshot;

pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// A running server over a temporary storage root (`<dir>/storage`); stopped on drop.
pub struct TestServer {
    pub addr: SocketAddr,
    /// The network namespace it listens in, when not this process's.
    netns: Option<PathBuf>,
    pub dir: tempfile::TempDir,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl TestServer {
    pub fn start() -> Self {
        Self::with(|_, _| {})
    }

    /// Starts a server after `configure` adjusted its configuration (given the temp dir).
    pub fn with(configure: impl FnOnce(&mut ServerConfig, &Path)) -> Self {
        Self::spawn(configure, None)
    }

    /// Starts a server listening on 127.0.0.1 of the network namespace `netns`
    /// (`/proc/<pid>/ns/net`): its thread enters the namespace before it binds.
    pub fn in_netns(netns: &Path, configure: impl FnOnce(&mut ServerConfig, &Path)) -> Self {
        Self::spawn(configure, Some(netns.to_owned()))
    }

    fn spawn(configure: impl FnOnce(&mut ServerConfig, &Path), netns: Option<PathBuf>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let server_netns = netns.clone();
        let mut config = ServerConfig::new(dir.path().join("storage"));
        config.addr = "127.0.0.1:0".parse().unwrap();
        configure(&mut config, dir.path());
        let (stop, stopped) = oneshot::channel::<()>();
        let (bound, addr) = mpsc::channel();
        let thread = thread::spawn(move || {
            if let Some(netns) = &server_netns {
                enter(netns);
            }
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let server = Server::bind(config).await.unwrap();
                bound.send(server.local_addr()).unwrap();
                server
                    .run_until(async move {
                        let _ = stopped.await;
                    })
                    .await;
            });
        });
        let addr = addr
            .recv_timeout(Duration::from_secs(20))
            .expect("server did not start");
        Self {
            addr,
            netns,
            dir,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    pub fn storage(&self) -> PathBuf {
        self.dir.path().join("storage")
    }

    pub fn http(&self) -> Http {
        Http {
            addr: self.addr,
            authorization: None,
            netns: self.netns.clone(),
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A response as it came over the wire.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&self.body)))
    }

    /// The `code` of the first error, checking the spec's error form on the way.
    pub fn error_code(&self) -> String {
        let body = self.json();
        let error = &body["errors"][0];
        assert!(error["message"].is_string(), "{body}");
        error["code"]
            .as_str()
            .unwrap_or_else(|| panic!("{body}"))
            .to_owned()
    }

    /// Asserts the status and the error code.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(
            (self.status, self.error_code().as_str()),
            (status, code),
            "{}",
            String::from_utf8_lossy(&self.body)
        );
        assert_eq!(
            self.header("docker-distribution-api-version"),
            Some("registry/2.0")
        );
    }
}

/// Moves the calling thread into the network namespace `netns`.
fn enter(netns: &Path) {
    let namespace = std::fs::File::open(netns).unwrap();
    rustix::thread::move_into_link_name_space(
        std::os::fd::AsFd::as_fd(&namespace),
        Some(rustix::thread::LinkNameSpaceType::Network),
    )
    .unwrap();
}

/// A client of one server; every request is one connection.
#[derive(Clone)]
pub struct Http {
    pub addr: SocketAddr,
    pub authorization: Option<String>,
    /// Connect from this network namespace (the server's).
    netns: Option<PathBuf>,
}

impl Http {
    /// A client of the server at `addr`, in this network namespace.
    pub fn new(addr: SocketAddr) -> Self {
        Self {
            addr,
            authorization: None,
            netns: None,
        }
    }

    pub fn with_bearer(mut self, token: &str) -> Self {
        self.authorization = Some(format!("Bearer {token}"));
        self
    }

    /// A token from the server's token service for `scopes`, as `user` (name, password) or
    /// anonymously.
    pub fn token(&self, user: Option<(&str, &str)>, scopes: &[&str]) -> String {
        let mut target = "/token?service=berth-registry".to_owned();
        for scope in scopes {
            target.push_str("&scope=");
            target.extend(form_urlencoded::byte_serialize(scope.as_bytes()));
        }
        let mut client = self.clone();
        client.authorization = None;
        if let Some((user, password)) = user {
            client = client.with_basic(user, password);
        }
        let reply = client.get(&target);
        assert_eq!(
            reply.status,
            200,
            "{}",
            String::from_utf8_lossy(&reply.body)
        );
        let body = reply.json();
        assert_eq!(body["token"], body["access_token"]);
        assert_eq!(body["expires_in"], 300);
        body["token"].as_str().unwrap().to_owned()
    }

    pub fn with_basic(mut self, user: &str, password: &str) -> Self {
        let encoded =
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        self.authorization = Some(format!("Basic {encoded}"));
        self
    }

    pub fn get(&self, target: &str) -> Reply {
        self.send("GET", target, &[], b"")
    }

    pub fn head(&self, target: &str) -> Reply {
        self.send("HEAD", target, &[], b"")
    }

    pub fn delete(&self, target: &str) -> Reply {
        self.send("DELETE", target, &[], b"")
    }

    /// Sends a request; `Content-Length` is added for a body unless `headers` has one.
    pub fn send(&self, method: &str, target: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
        let mut stream = match &self.netns {
            // A socket stays in the namespace it was made in: only the connect needs a thread
            // that entered it.
            Some(netns) => thread::scope(|scope| {
                scope
                    .spawn(|| {
                        enter(netns);
                        TcpStream::connect(self.addr)
                    })
                    .join()
                    .unwrap()
            }),
            None => TcpStream::connect(self.addr),
        }
        .unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let mut head = format!(
            "{method} {target} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
            self.addr
        );
        if let Some(authorization) = &self.authorization {
            head.push_str(&format!("Authorization: {authorization}\r\n"));
        }
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        let has_length = headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("content-length"));
        if !has_length && (!body.is_empty() || matches!(method, "PUT" | "POST" | "PATCH")) {
            head.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        head.push_str("\r\n");
        // In one write, so that a server that refuses the request unread still has the body in
        // its buffer, not in the socket (where closing would reset the connection).
        let mut request = head.into_bytes();
        request.extend_from_slice(body);
        // The server may answer (and close) before taking all of a refused body.
        let _ = stream.write_all(&request);
        let mut raw = Vec::new();
        let _ = stream.read_to_end(&mut raw);
        parse_reply(&raw)
    }

    /// `POST ?digest=`: a whole blob in one request; returns the reply.
    pub fn upload(&self, repository: &str, blob: &[u8]) -> Reply {
        let digest = Digest::of(blob);
        self.send(
            "POST",
            &format!("/v2/{repository}/blobs/uploads/?digest={digest}"),
            &[("Content-Type", "application/octet-stream")],
            blob,
        )
    }

    /// Uploads `blob` and asserts it was created; returns its descriptor.
    pub fn push_blob(&self, repository: &str, blob: &[u8], media_type: &str) -> Value {
        let reply = self.upload(repository, blob);
        assert_eq!(
            reply.status,
            201,
            "{}",
            String::from_utf8_lossy(&reply.body)
        );
        descriptor(media_type, blob)
    }

    pub fn put_manifest(
        &self,
        repository: &str,
        reference: &str,
        media_type: &str,
        manifest: &[u8],
    ) -> Reply {
        self.send(
            "PUT",
            &format!("/v2/{repository}/manifests/{reference}"),
            &[("Content-Type", media_type)],
            manifest,
        )
    }
}

fn parse_reply(raw: &[u8]) -> Reply {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no response head in {:?}", String::from_utf8_lossy(raw)));
    let head = std::str::from_utf8(&raw[..split]).unwrap();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    assert!(
        !headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("transfer-encoding")),
        "every reply has a Content-Length"
    );
    Reply {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    }
}

/// Writes a token service access file: `users` (name, password) and `grants` lines.
pub fn access_file(dir: &Path, users: &[(&str, &str)], grants: &[&str]) -> PathBuf {
    let path = dir.join("access");
    let mut text = String::new();
    for (user, password) in users {
        text.push_str(&format!("{user}:{}\n", bcrypt::hash(password, 4).unwrap()));
    }
    for grant in grants {
        text.push_str(&format!("grant {grant}\n"));
    }
    std::fs::write(&path, text).unwrap();
    path
}

pub fn descriptor(media_type: &str, content: &[u8]) -> Value {
    json!({
        "mediaType": media_type,
        "digest": Digest::of(content).to_string(),
        "size": content.len(),
    })
}

/// A config blob unique to `tag`.
pub fn config_blob(tag: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {"Labels": {"tag": tag}},
        "rootfs": {"type": "layers", "diff_ids": []},
    }))
    .unwrap()
}

/// An image manifest of `media_type` over a config and layers already pushed.
pub fn image_manifest(media_type: &str, config: &Value, layers: &[Value]) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": config,
        "layers": layers,
    }))
    .unwrap()
}

/// Pushes a config and one layer to `repository` and returns an image manifest over them.
pub fn pushed_image(http: &Http, repository: &str, tag: &str, media_type: &str) -> Vec<u8> {
    let (config_type, layer_type) = if media_type == DOCKER_MANIFEST {
        (
            "application/vnd.docker.container.image.v1+json",
            "application/vnd.docker.image.rootfs.diff.tar.gzip",
        )
    } else {
        (
            "application/vnd.oci.image.config.v1+json",
            "application/vnd.oci.image.layer.v1.tar+gzip",
        )
    };
    let config = http.push_blob(repository, &config_blob(tag), config_type);
    let layer = http.push_blob(repository, format!("layer of {tag}").as_bytes(), layer_type);
    image_manifest(media_type, &config, &[layer])
}
