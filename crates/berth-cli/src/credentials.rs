//! Registry credentials, kept where docker keeps them: the `auths` of `config.json` in
//! `$DOCKER_CONFIG` or `~/.docker`, each `{"auth": base64("user:password")}`, so that a
//! `docker login` serves berth too and the other way round — or, when the file names one
//! (`credHelpers` for a registry, else `credsStore`), in a credential helper: the program
//! `docker-credential-<name>` with its `get`, `store` and `erase` commands (JSON on stdin and
//! stdout), `auths` then only listing the registry with an empty entry.

use std::io;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use bollard::auth::DockerCredentials;
use serde_json::{Map, Value};

/// The key docker files Docker Hub's credentials under.
pub const HUB_ADDRESS: &str = "https://index.docker.io/v1/";

/// The directory of `config.json`: `$DOCKER_CONFIG`, else `$HOME/.docker`.
pub fn config_dir() -> io::Result<PathBuf> {
    if let Some(dir) = std::env::var_os("DOCKER_CONFIG").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    match std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        Some(home) => Ok(PathBuf::from(home).join(".docker")),
        None => Err(io::Error::other("cannot find the home directory ($HOME)")),
    }
}

/// The registry a familiar repository name lives in, as `auths` keys it: its host, or
/// Docker Hub's address.
pub fn registry_of(name: &str) -> String {
    match name.split_once('/') {
        Some((first, _)) if first.contains(['.', ':']) || first == "localhost" => {
            normalize_server(first)
        }
        _ => HUB_ADDRESS.to_string(),
    }
}

/// A server named on `login`/`logout`'s command line as `auths` keys it: Docker Hub's
/// aliases become its address, anything else its bare host.
pub fn normalize_server(server: &str) -> String {
    let host = server
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    let host = host.split('/').next().unwrap_or(host);
    match host {
        "docker.io" | "index.docker.io" | "registry-1.docker.io" | "" => HUB_ADDRESS.to_string(),
        host => host.to_string(),
    }
}

/// The file's contents as a JSON object; a missing file is an empty one.
fn read_config(path: &Path) -> io::Result<Map<String, Value>> {
    match std::fs::read(path) {
        Ok(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => Ok(Map::new()),
        Ok(bytes) => match serde_json::from_slice(&bytes) {
            Ok(Value::Object(map)) => Ok(map),
            Ok(_) => Err(io::Error::other(format!(
                "{}: not a JSON object",
                path.display()
            ))),
            Err(e) => Err(io::Error::other(format!("{}: {e}", path.display()))),
        },
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Map::new()),
        Err(e) => Err(e),
    }
}

/// Writes the file through a temporary neighbour, readable by its owner only.
fn write_config(path: &Path, config: &Map<String, Value>) -> io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let text = serde_json::to_string_pretty(config).map_err(io::Error::other)?;
    let temporary = dir.join(format!(".config.json.{}", std::process::id()));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&temporary)?;
    file.write_all(text.as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()?;
    std::fs::rename(&temporary, path)
}

/// The credential helper `config` names for `server`, if any.
fn helper_for(config: &Map<String, Value>, server: &str) -> Option<String> {
    let name = config
        .get("credHelpers")
        .and_then(|helpers| helpers.get(server))
        .or_else(|| config.get("credsStore"))?
        .as_str()?;
    // A program name, never a path.
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    valid.then(|| name.to_string())
}

/// Runs `docker-credential-<helper> <command>` with `input` on stdin; its stdout, or what it
/// said went wrong.
fn run_helper(helper: &str, command: &str, input: &str) -> io::Result<String> {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let program = format!("docker-credential-{helper}");
    let mut child = Command::new(&program)
        .arg(command)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| io::Error::other(format!("{program}: {e}")))?;
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(input.as_bytes())?;
    let output = child.wait_with_output()?;
    let stdout = String::from_utf8_lossy(&output.stdout).trim().to_string();
    if output.status.success() {
        Ok(stdout)
    } else {
        let said = String::from_utf8_lossy(&output.stderr).trim().to_string();
        Err(io::Error::other(format!(
            "{program} {command}: {}",
            if stdout.is_empty() { said } else { stdout }
        )))
    }
}

/// Stored credentials, in the file under `dir`.
pub struct Store {
    path: PathBuf,
}

impl Store {
    /// The store docker uses.
    pub fn open() -> io::Result<Self> {
        Ok(Self::at(&config_dir()?))
    }

    pub fn at(dir: &Path) -> Self {
        Store {
            path: dir.join("config.json"),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Records `username` and `password` for `server` (an `auths` key): in its credential
    /// helper if the file names one, else in the file.
    pub fn save(&self, server: &str, username: &str, password: &str) -> io::Result<()> {
        let mut config = read_config(&self.path)?;
        let entry = match helper_for(&config, server) {
            Some(helper) => {
                let input = serde_json::json!({"ServerURL": server, "Username": username, "Secret": password});
                run_helper(&helper, "store", &input.to_string())?;
                serde_json::json!({})
            }
            None => {
                serde_json::json!({ "auth": STANDARD.encode(format!("{username}:{password}")) })
            }
        };
        let auths = config
            .entry("auths")
            .or_insert_with(|| Value::Object(Map::new()));
        if !auths.is_object() {
            *auths = Value::Object(Map::new());
        }
        if let Value::Object(auths) = auths {
            auths.insert(server.to_string(), entry);
        }
        write_config(&self.path, &config)
    }

    /// Forgets `server`'s credentials; whether there were any.
    pub fn remove(&self, server: &str) -> io::Result<bool> {
        let mut config = read_config(&self.path)?;
        if let Some(helper) = helper_for(&config, server) {
            // Forgotten by the helper whether or not the file still lists it.
            let _ = run_helper(&helper, "erase", server);
        }
        let removed = config
            .get_mut("auths")
            .and_then(Value::as_object_mut)
            .is_some_and(|auths| auths.remove(server).is_some());
        if removed {
            write_config(&self.path, &config)?;
        }
        Ok(removed)
    }

    /// `server`'s username and password, if stored (and readable).
    pub fn get(&self, server: &str) -> Option<(String, String)> {
        let config = read_config(&self.path).ok()?;
        if let Some(helper) = helper_for(&config, server) {
            let answer: Value =
                serde_json::from_str(&run_helper(&helper, "get", server).ok()?).ok()?;
            let username = answer["Username"].as_str()?.to_string();
            let secret = answer["Secret"].as_str()?.to_string();
            return Some((username, secret));
        }
        let entry = config.get("auths")?.get(server)?;
        let auth = entry.get("auth")?.as_str()?;
        let decoded = String::from_utf8(STANDARD.decode(auth.trim()).ok()?).ok()?;
        let (username, password) = decoded.split_once(':')?;
        Some((username.to_string(), password.to_string()))
    }

    /// Every stored server with its username and password.
    pub fn all(&self) -> Vec<(String, String, String)> {
        let Ok(config) = read_config(&self.path) else {
            return Vec::new();
        };
        let servers: Vec<String> = config
            .get("auths")
            .and_then(Value::as_object)
            .map(|auths| auths.keys().cloned().collect())
            .unwrap_or_default();
        servers
            .into_iter()
            .filter_map(|server| {
                let (username, password) = self.get(&server)?;
                Some((server, username, password))
            })
            .collect()
    }

    /// What `build` sends as `X-Registry-Config` (base64url JSON, by server), so the
    /// daemon can pull private base images; None when nothing is stored.
    pub fn registry_config(&self) -> Option<String> {
        let all = self.all();
        if all.is_empty() {
            return None;
        }
        let map: Map<String, Value> = all
            .into_iter()
            .map(|(server, username, password)| {
                let auth = serde_json::json!({
                    "username": username,
                    "password": password,
                    "serveraddress": server,
                });
                (server, auth)
            })
            .collect();
        Some(URL_SAFE.encode(Value::Object(map).to_string()))
    }

    /// What the daemon is sent as `X-Registry-Auth` for an image of repository `name`.
    pub fn credentials_for(&self, name: &str) -> Option<DockerCredentials> {
        let server = registry_of(name);
        let (username, password) = self.get(&server)?;
        Some(DockerCredentials {
            username: Some(username),
            password: Some(password),
            serveraddress: Some(server),
            ..Default::default()
        })
    }
}

/// The stored credentials for an image of repository `name`, if any: what pulls and pushes
/// send. A store that cannot be read means none.
pub fn for_image(name: &str) -> Option<DockerCredentials> {
    Store::open().ok()?.credentials_for(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registries_of_names() {
        assert_eq!(registry_of("busybox"), HUB_ADDRESS);
        assert_eq!(registry_of("someone/app"), HUB_ADDRESS);
        assert_eq!(registry_of("localhost:5000/app"), "localhost:5000");
        assert_eq!(registry_of("example.com/team/app"), "example.com");
        assert_eq!(normalize_server("docker.io"), HUB_ADDRESS);
        assert_eq!(
            normalize_server("https://example.com:5000/v2/"),
            "example.com:5000"
        );
    }

    #[test]
    fn the_registry_config_carries_every_stored_login() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::at(dir.path());
        assert_eq!(store.registry_config(), None);
        store.save("localhost:5000", "alice", "pw").unwrap();
        let header = store.registry_config().unwrap();
        let json: Value = serde_json::from_slice(&URL_SAFE.decode(header).unwrap()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"localhost:5000": {
                "username": "alice", "password": "pw", "serveraddress": "localhost:5000"}})
        );
    }

    #[test]
    fn save_get_remove_keep_other_keys() {
        let home = tempfile::tempdir().unwrap();
        let dir = home.path().join(".docker");
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(
            dir.join("config.json"),
            r#"{"auths":{"other.io":{"auth":"eDp5"}},"psFormat":"table {{.ID}}"}"#,
        )
        .unwrap();
        let store = Store::at(&dir);
        store.save("localhost:5000", "alice", "pa:ss").unwrap();
        let text = std::fs::read_to_string(store.path()).unwrap();
        let config: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            config["auths"]["localhost:5000"]["auth"],
            STANDARD.encode("alice:pa:ss")
        );
        assert_eq!(config["psFormat"], "table {{.ID}}");
        assert_eq!(
            store.get("localhost:5000"),
            Some(("alice".to_string(), "pa:ss".to_string()))
        );
        assert_eq!(
            store.get("other.io"),
            Some(("x".to_string(), "y".to_string()))
        );
        let credentials = store.credentials_for("localhost:5000/app").unwrap();
        assert_eq!(credentials.username.as_deref(), Some("alice"));
        assert_eq!(credentials.serveraddress.as_deref(), Some("localhost:5000"));
        assert!(store.credentials_for("busybox").is_none());
        assert!(store.remove("localhost:5000").unwrap());
        assert!(!store.remove("localhost:5000").unwrap());
        assert_eq!(store.get("localhost:5000"), None);
        assert!(store.get("other.io").is_some());
    }

    #[test]
    fn missing_file_is_created_private() {
        use std::os::unix::fs::PermissionsExt;
        let home = tempfile::tempdir().unwrap();
        let store = Store::at(&home.path().join(".docker"));
        assert_eq!(store.get(HUB_ADDRESS), None);
        store.save(HUB_ADDRESS, "bob", "secret").unwrap();
        let mode = std::fs::metadata(store.path())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(store.credentials_for("busybox").is_some());
    }
}
