//! `login` and `logout`: credentials for a registry, kept in docker's `config.json`. As with
//! docker, `login` has the daemon check them with the registry (`POST /auth`) first, and
//! stores only credentials the registry accepted.

use std::io::{BufRead, IsTerminal, Write};

use hyper::Method;
use serde_json::json;

use crate::cli::{LoginArgs, LogoutArgs};
use crate::client::Connector;
use crate::client::raw::request;
use crate::credentials::{HUB_ADDRESS, Store, normalize_server};
use crate::error::CliError;
use crate::output;

pub async fn login(connector: &Connector, args: LoginArgs) -> Result<(), CliError> {
    let server = normalize_server(args.server.as_deref().unwrap_or(HUB_ADDRESS));
    if args.password.is_some() {
        eprintln!("WARNING! Using --password via the CLI is insecure. Use --password-stdin.");
    }
    let password = match (args.password, args.password_stdin) {
        (Some(password), _) => Some(password),
        (None, true) => {
            if args.username.is_none() {
                return Err(CliError::Failed(
                    "Must provide --username with --password-stdin".to_string(),
                ));
            }
            let mut text = String::new();
            std::io::stdin().read_line(&mut text)?;
            Some(text.trim_end_matches(['\n', '\r']).to_string())
        }
        (None, false) => None,
    };
    let username = match args.username {
        Some(username) => username,
        None => prompt("Username: ")?,
    };
    if username.trim().is_empty() {
        return Err(CliError::Failed(
            "Error: Non-null Username Required".to_string(),
        ));
    }
    let password = match password {
        Some(password) => password,
        None => prompt("Password: ")?,
    };
    if password.is_empty() {
        return Err(CliError::Failed("Error: Password Required".to_string()));
    }
    // Connecting first starts berthd when that is allowed; the request is then sent raw.
    connector.connect().await?;
    let body = json!({"username": username.trim(), "password": password, "serveraddress": server});
    let response = request(connector.host(), Method::POST, "/auth", Some(body))
        .await
        .map_err(CliError::Failed)?;
    if response.status != 200 {
        return Err(CliError::Failed(response.error_message().await));
    }
    let store = Store::open()?;
    store
        .save(&server, username.trim(), &password)
        .map_err(|e| CliError::Failed(format!("Error saving credentials: {e}")))?;
    eprintln!(
        "WARNING! Your password will be stored unencrypted in {}.",
        store.path().display()
    );
    output::line("Login Succeeded");
    Ok(())
}

pub fn logout(args: LogoutArgs) -> Result<(), CliError> {
    let server = normalize_server(args.server.as_deref().unwrap_or(HUB_ADDRESS));
    let store = Store::open()?;
    if store.remove(&server)? {
        output::line(&format!("Removing login credentials for {server}"));
    } else {
        output::line(&format!("Not logged in to {server}"));
    }
    Ok(())
}

/// Asks for a value on the terminal (the password without echo).
fn prompt(question: &str) -> Result<String, CliError> {
    if !std::io::stdin().is_terminal() {
        return Err(CliError::Failed(
            "Error: Cannot perform an interactive login from a non TTY device".to_string(),
        ));
    }
    let mut stderr = std::io::stderr();
    write!(stderr, "{question}")?;
    stderr.flush()?;
    let hidden = question.starts_with("Password");
    let raw = if hidden { no_echo() } else { None };
    let mut text = String::new();
    let read = std::io::stdin().lock().read_line(&mut text);
    if let Some(previous) = raw {
        let _ = rustix::termios::tcsetattr(
            rustix::stdio::stdin(),
            rustix::termios::OptionalActions::Now,
            &previous,
        );
        eprintln!();
    }
    read?;
    Ok(text.trim_end_matches(['\n', '\r']).to_string())
}

/// Turns our terminal's echo off; the settings to restore.
fn no_echo() -> Option<rustix::termios::Termios> {
    let stdin = rustix::stdio::stdin();
    let previous = rustix::termios::tcgetattr(stdin).ok()?;
    let mut quiet = previous.clone();
    quiet.local_modes -= rustix::termios::LocalModes::ECHO;
    rustix::termios::tcsetattr(stdin, rustix::termios::OptionalActions::Now, &quiet).ok()?;
    Some(previous)
}
