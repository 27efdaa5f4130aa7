//! The dependency graph: `depends_on`, and what `network_mode`/`ipc`/`pid: service:x`,
//! `volumes_from` and `links` imply.

use std::collections::BTreeSet;

use crate::error::Error;
use crate::model::Project;

/// Services in start order, dependencies first (ties by name). With `roots`, only those and
/// what they depend on, transitively; without, every enabled service.
pub fn order(p: &Project, roots: &[String]) -> Result<Vec<String>, Error> {
    let mut done = BTreeSet::new();
    let mut out = Vec::new();
    let starts: Vec<String> = if roots.is_empty() {
        p.services.keys().cloned().collect()
    } else {
        roots.to_vec()
    };
    for name in &starts {
        visit(p, name, &mut Vec::new(), &mut done, &mut out)?;
    }
    Ok(out)
}

fn visit(
    p: &Project,
    name: &str,
    stack: &mut Vec<String>,
    done: &mut BTreeSet<String>,
    out: &mut Vec<String>,
) -> Result<(), Error> {
    if done.contains(name) {
        return Ok(());
    }
    if let Some(at) = stack.iter().position(|s| s == name) {
        let mut cycle: Vec<&str> = stack[at..].iter().map(String::as_str).collect();
        cycle.push(name);
        return Err(Error::Failed(format!(
            "dependency cycle detected: {}",
            cycle.join(" -> ")
        )));
    }
    let Some(service) = p.services.get(name) else {
        return Err(Error::Failed(format!("no such service: {name}")));
    };
    stack.push(name.to_string());
    for dep in service.dependencies().keys() {
        if p.services.contains_key(dep) {
            visit(p, dep, stack, done, out)?;
        }
    }
    stack.pop();
    done.insert(name.to_string());
    out.push(name.to_string());
    Ok(())
}

/// The enabled services that depend on `name`, directly.
pub fn dependents(p: &Project, name: &str) -> Vec<String> {
    p.services
        .iter()
        .filter(|(_, s)| s.dependencies().contains_key(name))
        .map(|(n, _)| n.clone())
        .collect()
}
