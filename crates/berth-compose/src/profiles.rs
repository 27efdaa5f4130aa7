//! Profiles: a service with `profiles` runs only when one of them is active (`--profile`,
//! `COMPOSE_PROFILES`, `*` for all) or when it is named on the command line, which also
//! enables what it depends on.

use std::collections::BTreeSet;

use crate::error::Error;
use crate::model::Project;

pub(crate) fn apply(p: &mut Project, active: &[String], targets: &[String]) -> Result<(), Error> {
    for t in targets {
        if !p.services.contains_key(t) {
            return Err(Error::Failed(format!("no such service: {t}")));
        }
    }
    let all = active.iter().any(|a| a == "*");
    let mut enabled: BTreeSet<String> = p
        .services
        .iter()
        .filter(|(_, s)| {
            s.profiles.is_empty() || all || s.profiles.iter().any(|sp| active.contains(sp))
        })
        .map(|(n, _)| n.clone())
        .collect();
    let mut queue: Vec<String> = targets.to_vec();
    while let Some(name) = queue.pop() {
        if let Some(s) = p.services.get(&name) {
            for dep in s.dependencies().keys() {
                if !enabled.contains(dep) && !queue.contains(dep) {
                    queue.push(dep.clone());
                }
            }
        }
        enabled.insert(name);
    }
    let names: Vec<String> = p.services.keys().cloned().collect();
    for name in names {
        if !enabled.contains(&name)
            && let Some(s) = p.services.remove(&name)
        {
            p.disabled_services.insert(name, s);
        }
    }
    for (name, s) in p.services.iter_mut() {
        let mut dropped = Vec::new();
        for (dep, d) in s.dependencies() {
            if let Some(disabled) = p.disabled_services.get(&dep) {
                if d.required {
                    return Err(Error::Failed(format!(
                        "service {dep:?} is required by {name:?} but is disabled; enable it with one of the profiles {}",
                        disabled.profiles.join(", ")
                    )));
                }
                dropped.push(dep);
            }
        }
        for dep in dropped {
            s.depends_on.remove(&dep);
        }
    }
    Ok(())
}
