//! The token service's access file: its users and what each may do, per repository.
//!
//! ```text
//! # Users, as `htpasswd -B` writes them.
//! alice:$2y$05$...
//! bob:$2y$05$...
//! # grant <repository> <who> <actions>
//! #   repository: a name, `team/*` (every repository under team/) or `*` (all of them)
//! #   who: a user, `+` (any user of this file) or `anonymous` (anyone, logged in or not)
//! #   actions: pull, push, delete, or `*`, separated by commas
//! grant team/* alice pull,push
//! grant * + pull
//! grant public/* anonymous pull
//! ```
//!
//! Grants add up; nothing is allowed unless granted. Any user may list the catalog, which then
//! shows only the repositories that user may pull.

use std::collections::BTreeSet;
use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::server::auth::Htpasswd;
use crate::server::error::ServeError;
use crate::server::names::RepoName;

/// What a token may allow on a repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Action {
    Pull,
    Push,
    Delete,
}

impl Action {
    const ALL: [Action; 3] = [Action::Pull, Action::Push, Action::Delete];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Action::Pull => "pull",
            Action::Push => "push",
            Action::Delete => "delete",
        }
    }

    fn parse(action: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == action)
    }
}

/// The resource types of the token protocol.
pub(crate) const REPOSITORY: &str = "repository";
pub(crate) const REGISTRY: &str = "registry";
/// `registry:catalog:*`, the scope of `GET /v2/_catalog`.
pub(crate) const CATALOG: &str = "catalog";

/// A resource and actions on it: a token request's `scope` (`repository:app:pull,push`) and an
/// entry of a token's `access` claim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Scope {
    #[serde(rename = "type")]
    pub(crate) resource_type: String,
    pub(crate) name: String,
    pub(crate) actions: Vec<String>,
}

impl Scope {
    pub(crate) fn repository(name: &RepoName, actions: &[Action]) -> Self {
        Self {
            resource_type: REPOSITORY.to_owned(),
            name: name.as_str().to_owned(),
            actions: actions.iter().map(|a| a.as_str().to_owned()).collect(),
        }
    }

    pub(crate) fn catalog() -> Self {
        Self {
            resource_type: REGISTRY.to_owned(),
            name: CATALOG.to_owned(),
            actions: vec!["*".to_owned()],
        }
    }

    /// `type:name:actions`; the name may hold `:` (a port, in other registries' names), so
    /// the type ends at the first and the actions start after the last.
    pub(crate) fn parse(scope: &str) -> Option<Self> {
        let (resource_type, rest) = scope.split_once(':')?;
        let (name, actions) = rest.rsplit_once(':')?;
        Some(Self {
            resource_type: resource_type.to_owned(),
            name: name.to_owned(),
            actions: actions
                .split(',')
                .filter(|a| !a.is_empty())
                .map(str::to_owned)
                .collect(),
        })
    }

    /// True if this scope allows `action` on the resource `resource_type:name`.
    pub(crate) fn allows(&self, resource_type: &str, name: &str, action: &str) -> bool {
        self.resource_type == resource_type
            && self.name == name
            && self.actions.iter().any(|a| a == action || a == "*")
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}",
            self.resource_type,
            self.name,
            self.actions.join(",")
        )
    }
}

/// The repositories a grant is about.
#[derive(Debug)]
enum Repositories {
    Named(String),
    /// Every repository whose name starts with this (`team/`).
    Under(String),
    All,
}

impl Repositories {
    fn matches(&self, name: &str) -> bool {
        match self {
            Repositories::Named(named) => named == name,
            Repositories::Under(prefix) => name.starts_with(prefix.as_str()),
            Repositories::All => true,
        }
    }
}

/// Whom a grant is for.
#[derive(Debug, PartialEq, Eq)]
enum Grantee {
    User(String),
    /// `+`: any user of the file.
    AnyUser,
    /// `anonymous`: anyone at all.
    Anyone,
}

#[derive(Debug)]
struct Grant {
    repositories: Repositories,
    grantee: Grantee,
    actions: BTreeSet<Action>,
}

impl Grant {
    fn applies_to(&self, user: Option<&str>) -> bool {
        match (&self.grantee, user) {
            (Grantee::Anyone, _) | (Grantee::AnyUser, Some(_)) => true,
            (Grantee::User(grantee), Some(user)) => grantee == user,
            _ => false,
        }
    }
}

/// The users and grants of an access file.
#[derive(Debug)]
pub(crate) struct AccessFile {
    pub(crate) users: Htpasswd,
    grants: Vec<Grant>,
}

impl AccessFile {
    pub(crate) fn load(path: &Path) -> Result<Self, ServeError> {
        let error = |reason: String| ServeError::Access {
            path: path.to_owned(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| error(e.to_string()))?;
        let (grant_lines, user_lines): (Vec<_>, Vec<_>) = text
            .lines()
            .enumerate()
            .partition(|(_, line)| line.trim_start().starts_with("grant "));
        let users = Htpasswd::parse(user_lines.into_iter()).map_err(error)?;
        for reserved in ["anonymous", "+"] {
            if users.has_user(reserved) {
                return Err(error(format!("{reserved:?} cannot be a user name")));
            }
        }
        let grants = grant_lines
            .into_iter()
            .map(|(number, line)| {
                parse_grant(line, &users).map_err(|reason| format!("line {}: {reason}", number + 1))
            })
            .collect::<Result<_, _>>()
            .map_err(error)?;
        Ok(Self { users, grants })
    }

    /// What `user` (`None`: anonymous) may do on repository `name`.
    pub(crate) fn allowed(&self, user: Option<&str>, name: &str) -> BTreeSet<Action> {
        self.grants
            .iter()
            .filter(|grant| grant.applies_to(user) && grant.repositories.matches(name))
            .flat_map(|grant| grant.actions.iter().copied())
            .collect()
    }

    /// What `user` gets of the `requested` scopes: each cut down to the actions granted; one
    /// granting nothing (or malformed, or of an unknown type) is left out.
    pub(crate) fn grant(&self, user: Option<&str>, requested: &[Scope]) -> Vec<Scope> {
        let mut granted = Vec::new();
        for scope in requested {
            match scope.resource_type.as_str() {
                REPOSITORY if RepoName::parse(&scope.name).is_ok() => {
                    let allowed = self.allowed(user, &scope.name);
                    let actions: Vec<String> = allowed
                        .into_iter()
                        .map(Action::as_str)
                        .filter(|a| scope.actions.iter().any(|r| r == a || r == "*"))
                        .map(str::to_owned)
                        .collect();
                    if !actions.is_empty() {
                        granted.push(Scope {
                            actions,
                            ..scope.clone()
                        });
                    }
                }
                REGISTRY if scope.name == CATALOG && user.is_some() => {
                    granted.push(Scope::catalog());
                }
                _ => {}
            }
        }
        granted
    }
}

/// `grant <repositories> <grantee> <actions>`.
fn parse_grant(line: &str, users: &Htpasswd) -> Result<Grant, String> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    let ["grant", repositories, grantee, actions] = fields[..] else {
        return Err("not `grant <repository> <who> <actions>`".to_owned());
    };
    let repositories = match repositories {
        "*" => Repositories::All,
        pattern => match pattern.strip_suffix("/*") {
            Some(prefix) if RepoName::parse(prefix).is_ok() => {
                Repositories::Under(format!("{prefix}/"))
            }
            Some(_) => return Err(format!("invalid repository pattern {pattern:?}")),
            None if RepoName::parse(pattern).is_ok() => Repositories::Named(pattern.to_owned()),
            None => return Err(format!("invalid repository name {pattern:?}")),
        },
    };
    let grantee = match grantee {
        "anonymous" => Grantee::Anyone,
        "+" => Grantee::AnyUser,
        user if users.has_user(user) => Grantee::User(user.to_owned()),
        user => return Err(format!("unknown user {user:?}")),
    };
    let actions = if actions == "*" {
        Action::ALL.into()
    } else {
        actions
            .split(',')
            .map(|action| Action::parse(action).ok_or_else(|| format!("unknown action {action:?}")))
            .collect::<Result<_, _>>()?
    };
    Ok(Grant {
        repositories,
        grantee,
        actions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn access(grants: &str) -> Result<AccessFile, ServeError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("access");
        let hash = bcrypt::hash("pw", 4).unwrap();
        std::fs::write(&path, format!("alice:{hash}\nbob:{hash}\n{grants}")).unwrap();
        AccessFile::load(&path)
    }

    fn scope(text: &str) -> Scope {
        Scope::parse(text).unwrap()
    }

    #[test]
    fn grants_add_up_per_repository_and_user() {
        let file = access(
            "grant team/* alice pull,push\n  grant * + pull\n\
             grant public/app anonymous pull\ngrant team/admin bob *\n",
        )
        .unwrap();
        let actions = |user, name| file.allowed(user, name).into_iter().collect::<Vec<_>>();
        assert_eq!(
            actions(Some("alice"), "team/app"),
            [Action::Pull, Action::Push]
        );
        assert_eq!(actions(Some("alice"), "teamx/app"), [Action::Pull]);
        assert_eq!(actions(Some("bob"), "team/app"), [Action::Pull]);
        assert_eq!(actions(Some("bob"), "team/admin"), Action::ALL);
        assert_eq!(actions(None, "public/app"), [Action::Pull]);
        assert_eq!(actions(None, "public/other"), []);

        let requested = [
            scope("repository:team/app:pull,push"),
            scope("repository:public/app:push"),
            scope("repository:team/admin:*"),
            scope("registry:catalog:*"),
            scope("repository:../etc:pull"),
            scope("plugin:x:pull"),
        ];
        let granted: Vec<String> = file
            .grant(Some("alice"), &requested)
            .iter()
            .map(Scope::to_string)
            .collect();
        assert_eq!(
            granted,
            [
                "repository:team/app:pull,push",
                "repository:team/admin:pull,push",
                "registry:catalog:*"
            ]
        );
        assert!(file.grant(None, &requested).is_empty());
    }

    #[test]
    fn scopes_parse_and_allow() {
        let parsed = scope("repository:localhost:5000/app:pull,push");
        assert_eq!(parsed.name, "localhost:5000/app");
        assert!(parsed.allows(REPOSITORY, "localhost:5000/app", "push"));
        assert!(!parsed.allows(REPOSITORY, "localhost:5000/app", "delete"));
        assert!(!parsed.allows(REGISTRY, "localhost:5000/app", "pull"));
        assert!(Scope::catalog().allows(REGISTRY, CATALOG, "*"));
        assert_eq!(Scope::parse("repository"), None);
    }

    #[test]
    fn refuses_grants_it_cannot_follow() {
        for (grant, reason) in [
            ("grant app carol pull", "unknown user"),
            ("grant app alice fly", "unknown action"),
            ("grant ../app alice pull", "invalid repository name"),
            ("grant a/*/b alice pull", "invalid repository"),
            ("grant app alice", "not `grant"),
        ] {
            let err = access(grant).unwrap_err().to_string();
            assert!(
                err.contains("line 3") && err.contains(reason),
                "{grant}: {err}"
            );
        }
        let err = access("anonymous:$2y$04$x\n").unwrap_err().to_string();
        assert!(err.contains("cannot be a user name"), "{err}");
    }
}
