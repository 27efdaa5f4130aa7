//! Each test daemon gets a bridge, subnet, address pool and nftables table of its own, so
//! daemons run side by side; teardown removes what a killed berthd left behind. Cleanup
//! uses the `ip` and `nft` tools: test code, never berth's own path.

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

static NEXT: AtomicU32 = AtomicU32::new(0);

pub struct TestNetwork {
    pub bridge: String,
    /// The default bridge's gateway and subnet.
    pub bip: String,
    /// Where this daemon's user networks get their subnets: a /20 of its own.
    pub pool: String,
}

impl TestNetwork {
    /// `tag` is the test directory's random suffix (letters and digits).
    pub fn new(tag: &str) -> Self {
        let n = (std::process::id()
            .wrapping_mul(31)
            .wrapping_add(NEXT.fetch_add(1, Ordering::Relaxed)))
            % 1600;
        TestNetwork {
            bridge: format!("bt{}", &tag[..tag.len().min(8)]),
            bip: format!("10.{}.{}.1/24", 100 + n / 250, n % 250),
            pool: format!("10.{}.{}.0/20", 130 + n / 16, (n % 16) * 16),
        }
    }

    pub fn daemon_json(&self) -> serde_json::Value {
        serde_json::json!({
            "bridge": self.bridge,
            "bip": self.bip,
            "default-address-pools": [{"base": self.pool, "size": 24}]
        })
    }

    /// berthd's nftables table for this bridge (`NetworkConfig::table`).
    pub fn table(&self) -> String {
        format!("berth_{}", self.bridge)
    }

    /// Deletes the default bridge, every bridge with an address in the daemon's pool, and
    /// the daemon's nftables tables.
    pub fn remove(&self) {
        let quiet = |args: &[&str], tool: &str| {
            let _ = Command::new(tool)
                .args(args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        };
        for bridge in self.bridges() {
            quiet(&["link", "del", &bridge], "ip");
        }
        // berth's table is `inet`; an `ip` one is what a berth before IPv6 support made.
        for family in ["inet", "ip"] {
            quiet(&["delete", "table", family, &self.table()], "nft");
        }
    }

    fn bridges(&self) -> Vec<String> {
        let out = Command::new("ip")
            .args(["-o", "-4", "addr", "show", "type", "bridge"])
            .output();
        let text = out
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        let octets =
            |s: &str| -> Vec<u32> { s.split(['.', '/']).filter_map(|o| o.parse().ok()).collect() };
        let pool = octets(&self.pool);
        let mut out = vec![self.bridge.clone()];
        for line in text.lines() {
            let words: Vec<&str> = line.split_whitespace().collect();
            let (Some(name), Some(addr)) = (words.get(1), words.get(3)) else {
                continue;
            };
            let a = octets(addr);
            if a.len() >= 3 && a[..2] == pool[..2] && (pool[2]..pool[2] + 16).contains(&a[2]) {
                out.push(name.to_string());
            }
        }
        out
    }
}
