//! `docker top`: the host's `ps` output, narrowed to the container's processes.

use crate::Engine;
use crate::error::{Error, Result};
use serde_json::{Value, json};
use std::collections::HashSet;

/// Host pids of every process in the pid namespace of `init_pid`.
fn pids_in_namespace_of(init_pid: i32) -> Result<HashSet<i32>> {
    let ns = |pid: &str| std::fs::read_link(format!("/proc/{pid}/ns/pid")).ok();
    let target = ns(&init_pid.to_string())
        .ok_or_else(|| Error::conflict(format!("process {init_pid} is gone")))?;
    let mut pids = HashSet::new();
    for entry in std::fs::read_dir("/proc")?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Ok(pid) = name.parse::<i32>()
            && ns(&name).as_ref() == Some(&target)
        {
            pids.insert(pid);
        }
    }
    Ok(pids)
}

/// Splits `ps` output into titles and the rows whose PID column is in `pids`. The last
/// column (the command) keeps its spaces.
fn filter_ps(output: &str, pids: &HashSet<i32>) -> Result<Value> {
    let mut lines = output.lines();
    let header = lines
        .next()
        .ok_or_else(|| Error::internal("ps printed nothing"))?;
    let titles: Vec<&str> = header.split_whitespace().collect();
    let pid_col = titles
        .iter()
        .position(|t| *t == "PID")
        .ok_or_else(|| Error::invalid("Couldn't find PID field in ps output"))?;
    let mut processes = Vec::new();
    for line in lines {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < titles.len() {
            continue;
        }
        let Ok(pid) = fields[pid_col].parse::<i32>() else {
            continue;
        };
        if !pids.contains(&pid) {
            continue;
        }
        let mut row: Vec<String> = fields[..titles.len() - 1]
            .iter()
            .map(|s| s.to_string())
            .collect();
        row.push(fields[titles.len() - 1..].join(" "));
        processes.push(row);
    }
    Ok(json!({"Titles": titles, "Processes": processes}))
}

impl Engine {
    /// `GET /containers/{id}/top?ps_args=...`.
    pub async fn top_container(&self, name: &str, ps_args: Option<&str>) -> Result<Value> {
        let id = self.resolve_container(name)?;
        let c = self.container_record(&id)?;
        if !c.state.running() {
            return Err(Error::conflict(format!("Container {id} is not running")));
        }
        let pids = pids_in_namespace_of(c.state.pid)?;
        let args: Vec<String> = ps_args
            .filter(|a| !a.is_empty())
            .unwrap_or("-ef")
            .split_whitespace()
            .map(str::to_string)
            .collect();
        // Not on any hot path: Docker runs the host's ps here too.
        let out = tokio::process::Command::new("ps")
            .args(&args)
            .output()
            .await
            .map_err(|e| Error::internal(format!("running ps: {e}")))?;
        if !out.status.success() {
            return Err(Error::internal(format!(
                "ps: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        filter_ps(&String::from_utf8_lossy(&out.stdout), &pids)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_containers_rows() {
        let ps = "UID PID PPID C STIME TTY TIME CMD\nroot 10 1 0 08:00 ? 00:00:00 sleep 60\nroot 11 1 0 08:00 ? 00:00:00 bash\n";
        let v = filter_ps(ps, &HashSet::from([10])).unwrap();
        assert_eq!(v["Titles"][1], "PID");
        assert_eq!(
            v["Processes"],
            json!([["root", "10", "1", "0", "08:00", "?", "00:00:00", "sleep 60"]])
        );
        assert!(filter_ps("USER COMMAND\nx y\n", &HashSet::new()).is_err());
    }
}
