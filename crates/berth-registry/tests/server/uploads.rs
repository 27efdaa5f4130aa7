//! Upload hygiene: the blob size limit, abandoned uploads purged (at startup and while
//! serving), and a server killed mid-upload that restarts on consistent storage.

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use berth_image::Digest;
use berth_registry::{Server, ServerConfig};

use crate::support::*;

/// Set in the child process that [`ServerProcess`] starts: the storage root to serve.
const CHILD_STORAGE: &str = "BERTH_REGISTRY_TEST_CHILD_STORAGE";

fn count_entries(dir: &Path) -> usize {
    fs::read_dir(dir).unwrap().count()
}

#[test]
fn blobs_over_the_size_limit_are_refused_and_not_stored() {
    let server = TestServer::with(|config, _| config.max_blob_size = 1000);
    let http = server.http();
    let big = vec![7u8; 1001];
    // Monolithic, declared too large: refused, no session left behind.
    http.upload("app", &big).assert_error(413, "SIZE_INVALID");
    // Streamed without a length (chunked encoding): cut off at the limit.
    let reply = http.send("POST", "/v2/app/blobs/uploads/", &[], b"");
    let location = reply.header("location").unwrap().to_owned();
    let mut chunked = format!("{:x}\r\n", big.len()).into_bytes();
    chunked.extend_from_slice(&big);
    chunked.extend_from_slice(b"\r\n0\r\n\r\n");
    http.send(
        "PATCH",
        &location,
        &[("Transfer-Encoding", "chunked")],
        &chunked,
    )
    .assert_error(413, "SIZE_INVALID");
    // Chunks within the limit pass; the one that would cross it does not, and the upload
    // keeps what it had.
    let reply = http.send(
        "PATCH",
        &location,
        &[("Content-Range", "0-599")],
        &big[..600],
    );
    assert_eq!(reply.status, 202);
    http.send(
        "PATCH",
        &location,
        &[("Content-Range", "600-1000")],
        &big[600..],
    )
    .assert_error(413, "SIZE_INVALID");
    assert_eq!(http.get(&location).header("range"), Some("0-599"));
    let finish = format!("{location}?digest={}", Digest::of(&big[..1000]));
    let reply = http.send(
        "PUT",
        &finish,
        &[("Content-Range", "600-999")],
        &big[600..1000],
    );
    assert_eq!(
        reply.status,
        201,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );

    assert_eq!(count_entries(&server.storage().join("blobs/sha256")), 1);
    assert_eq!(count_entries(&server.storage().join("uploads")), 0);
    http.get(&format!("/v2/app/blobs/{}", Digest::of(&big)))
        .assert_error(404, "BLOB_UNKNOWN");
}

#[test]
fn abandoned_uploads_are_purged_at_startup_and_while_serving() {
    let storage = tempfile::tempdir().unwrap();
    let serve = |expiry: Duration| {
        let root = storage.path().to_owned();
        TestServer::with(move |config, _| {
            config.storage = root;
            config.upload_expiry = expiry;
        })
    };
    let start_upload = |http: &Http| {
        let reply = http.send("POST", "/v2/app/blobs/uploads/", &[], b"");
        let location = reply.header("location").unwrap().to_owned();
        assert_eq!(
            http.send("PATCH", &location, &[], b"some bytes").status,
            202
        );
        location
    };
    let uploads = storage.path().join("uploads");

    // Left by an earlier run, idle for two days: gone once a server starts.
    let server = serve(ServerConfig::DEFAULT_UPLOAD_EXPIRY);
    let abandoned = start_upload(&server.http());
    let kept = start_upload(&server.http());
    drop(server);
    let id = abandoned.rsplit('/').next().unwrap();
    let data = fs::File::open(uploads.join(id).join("data")).unwrap();
    data.set_modified(SystemTime::now() - Duration::from_secs(2 * 24 * 3600))
        .unwrap();
    let server = serve(ServerConfig::DEFAULT_UPLOAD_EXPIRY);
    let http = server.http();
    let deadline = Instant::now() + Duration::from_secs(10);
    while uploads.join(id).exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    http.get(&abandoned)
        .assert_error(404, "BLOB_UPLOAD_UNKNOWN");
    assert_eq!(http.get(&kept).status, 204);
    drop(server);

    // While serving: an upload left alone past the expiry goes; one in use stays.
    let server = serve(Duration::from_secs(2));
    let http = server.http();
    let idle = start_upload(&http);
    let busy = start_upload(&http);
    let deadline = Instant::now() + Duration::from_secs(6);
    let mut offset = 10;
    while Instant::now() < deadline {
        let range = format!("{offset}-{}", offset + 2);
        let reply = http.send("PATCH", &busy, &[("Content-Range", &range)], b"abc");
        assert_eq!(
            reply.status,
            202,
            "{}",
            String::from_utf8_lossy(&reply.body)
        );
        offset += 3;
        std::thread::sleep(Duration::from_millis(200));
    }
    http.get(&idle).assert_error(404, "BLOB_UPLOAD_UNKNOWN");
    http.get(&kept).assert_error(404, "BLOB_UPLOAD_UNKNOWN");
    assert_eq!(http.get(&busy).status, 204);
    assert_eq!(count_entries(&uploads), 1);
}

/// `berth registry serve` as its own process (this test binary, running only
/// [`registry_child_process`]), so that a test can kill it.
struct ServerProcess {
    child: Child,
    addr: SocketAddr,
}

impl ServerProcess {
    fn start(storage: &Path) -> Self {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "uploads::registry_child_process", "--nocapture"])
            .env(CHILD_STORAGE, storage)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let addr = stdout
            .lines()
            .map(Result::unwrap)
            .find_map(|line| line.strip_prefix("listening on ").map(str::to_owned))
            .expect("the child server did not start")
            .parse()
            .unwrap();
        Self { child, addr }
    }

    fn http(&self) -> Http {
        Http::new(self.addr)
    }

    /// SIGKILL: no shutdown, no cleanup, as a crash.
    fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Not a test of its own: the server process of [`ServerProcess`], when started as one.
#[test]
fn registry_child_process() {
    let Some(storage) = std::env::var_os(CHILD_STORAGE) else {
        return;
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async move {
        let mut config = ServerConfig::new(storage);
        config.addr = "127.0.0.1:0".parse().unwrap();
        let server = Server::bind(config).await.unwrap();
        println!("listening on {}", server.local_addr());
        server.run_until(std::future::pending()).await;
    });
}

#[test]
fn a_server_killed_mid_upload_restarts_on_consistent_storage() {
    let storage = tempfile::tempdir().unwrap();
    let blob: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let digest = Digest::of(&blob);

    let server = ServerProcess::start(storage.path());
    let http = server.http();
    let reply = http.send("POST", "/v2/app/blobs/uploads/", &[], b"");
    let location = reply.header("location").unwrap().to_owned();
    let id = reply.header("docker-upload-uuid").unwrap().to_owned();
    let reply = http.send(
        "PATCH",
        &location,
        &[("Content-Range", "0-999")],
        &blob[..1000],
    );
    assert_eq!(reply.status, 202);

    // The next chunk is cut off by the kill after part of it arrived.
    let mut stream = TcpStream::connect(server.addr).unwrap();
    let head = format!(
        "PATCH {location} HTTP/1.1\r\nHost: {}\r\nContent-Range: 1000-{}\r\n\
         Content-Length: {}\r\n\r\n",
        server.addr,
        blob.len() - 1,
        blob.len() - 1000
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(&blob[1000..101_000]).unwrap();
    let data = storage.path().join("uploads").join(&id).join("data");
    let deadline = Instant::now() + Duration::from_secs(10);
    while fs::metadata(&data).unwrap().len() < 50_000 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    server.kill();
    drop(stream);

    // Restarted: the upload resumes from what reached the disk, which is a prefix of the blob.
    let server = ServerProcess::start(storage.path());
    let http = server.http();
    let reply = http.get(&location);
    assert_eq!(reply.status, 204);
    let range = reply.header("range").unwrap();
    let received: usize = range.strip_prefix("0-").unwrap().parse::<usize>().unwrap() + 1;
    assert!((1000..=101_000).contains(&received), "{range}");
    assert_eq!(fs::read(&data).unwrap(), blob[..received]);
    let finish = format!("{location}?digest={digest}");
    let rest = format!("{received}-{}", blob.len() - 1);
    let reply = http.send(
        "PUT",
        &finish,
        &[("Content-Range", &rest)],
        &blob[received..],
    );
    assert_eq!(
        reply.status,
        201,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    assert_eq!(http.get(&format!("/v2/app/blobs/{digest}")).body, blob);

    // Nothing half-made is left: every stored blob hashes to its name, no upload remains.
    for entry in fs::read_dir(storage.path().join("blobs/sha256")).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().into_string().unwrap();
        assert_eq!(Digest::of(&fs::read(entry.path()).unwrap()).hex(), name);
    }
    assert_eq!(count_entries(&storage.path().join("uploads")), 0);
}
