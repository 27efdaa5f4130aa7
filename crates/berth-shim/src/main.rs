//! berth-shim: the per-container monitor. See `berth-shim-proto` for the contract with
//! berthd: `berth-shim <exec dir>` reads `shim.json`, daemonizes, creates the container,
//! prints one `Launched` JSON line and exits; the daemon stays as the container's parent,
//! holds its stdio (pipes or a pty), writes the json-file log, serves `shim.sock` (attach,
//! stdin, resize, exec), reaps the container's processes and records the exit.
//!
//! Single-threaded and poll-based, with no async runtime, to stay small.

mod compression;
mod connection;
mod container_log;
mod daemon;
mod exec;
mod exec_dir;
mod json_log;
mod launch;
mod monitor;
mod output;
mod process_io;
mod rotating_file;
mod shim_log;
mod signals;
mod stdin;
mod timestamp;

use std::path::PathBuf;
use std::process::ExitCode;

use berth_runtime::EXIT_RUNTIME_FAILURE;
use berth_shim_proto::Launched;

use crate::daemon::Role;
use crate::exec_dir::ExecDir;

fn main() -> ExitCode {
    let args: Vec<_> = std::env::args_os().skip(1).collect();
    let [dir] = args.as_slice() else {
        eprintln!("usage: berth-shim <exec dir>");
        return ExitCode::from(2);
    };
    let exec_dir = match ExecDir::new(&PathBuf::from(dir)) {
        Ok(exec_dir) => exec_dir,
        Err(e) => return report(&failed(format!("exec dir {}: {e}", dir.display()))),
    };
    let config = match exec_dir.read_config() {
        Ok(config) => config,
        Err(e) => return report(&failed(e)),
    };
    match daemon::fork() {
        Err(e) => report(&failed(format!("fork: {e}"))),
        Ok(Role::Launcher(launch_report)) => report(&launch_report.wait()),
        Ok(Role::Daemon(notifier)) => {
            if let Some(monitor) = launch::launch(exec_dir, config, notifier) {
                monitor.run();
            }
            ExitCode::SUCCESS
        }
    }
}

fn failed(error: String) -> Launched {
    Launched {
        shim_pid: None,
        init_pid: None,
        error: Some(error),
        exit_code: Some(EXIT_RUNTIME_FAILURE),
    }
}

/// Prints the one line berthd reads; the exit status says whether the container exists.
fn report(launched: &Launched) -> ExitCode {
    match serde_json::to_string(launched) {
        Ok(line) => println!("{line}"),
        Err(e) => eprintln!("berth-shim: {e}"),
    }
    if launched.error.is_none() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
