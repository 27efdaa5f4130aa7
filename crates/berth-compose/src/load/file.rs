//! One compose file: read (bounded), parsed, interpolated, its paths made absolute, its
//! `include`s and `extends` applied.

use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::Error;
use crate::interpolate::{Environment, interpolate_tree};
use crate::yaml::{self, Node};

/// Largest compose file read.
const MAX_FILE: u64 = 16 << 20;
/// Deepest chain of `include`s and `extends` files.
const MAX_CHAIN: usize = 32;

pub(crate) struct Loader<'a> {
    pub env: Environment,
    pub warnings: &'a mut BTreeSet<String>,
    /// The files being loaded, outermost first, to catch include cycles.
    pub chain: Vec<PathBuf>,
}

impl<'a> Loader<'a> {
    pub fn new(env: Environment, warnings: &'a mut BTreeSet<String>) -> Self {
        Loader {
            env,
            warnings,
            chain: Vec::new(),
        }
    }

    /// A loader for an included project: its own environment, the same warnings and chain.
    pub fn nested(&mut self, env: Environment) -> Loader<'_> {
        Loader {
            env,
            warnings: self.warnings,
            chain: self.chain.clone(),
        }
    }

    /// Reads, parses and interpolates a file; `-` is standard input.
    pub fn read_tree(&mut self, path: &Path) -> Result<Node, Error> {
        let (text, name): (String, Arc<Path>) = if path.as_os_str() == "-" {
            let mut text = String::new();
            std::io::stdin()
                .take(MAX_FILE + 1)
                .read_to_string(&mut text)
                .map_err(|e| Error::io("<stdin>", e))?;
            if text.len() as u64 > MAX_FILE {
                return Err(Error::Failed(format!(
                    "standard input is larger than {MAX_FILE} bytes"
                )));
            }
            (text, Arc::from(Path::new("<stdin>")))
        } else {
            (crate::read_bounded(path, MAX_FILE)?, Arc::from(path))
        };
        let mut tree = yaml::parse(&text, Some(name.clone()))?;
        super::check_root(&tree, &name)?;
        interpolate_tree(&mut tree, "", &self.env, self.warnings)?;
        Ok(tree)
    }

    /// Loads a file whose relative paths are relative to `base_dir`.
    pub fn load(&mut self, path: &Path, base_dir: &Path) -> Result<Node, Error> {
        if self.chain.iter().any(|p| p == path) {
            let cycle: Vec<String> = self
                .chain
                .iter()
                .chain(std::iter::once(&path.to_path_buf()))
                .map(|p| p.display().to_string())
                .collect();
            return Err(Error::Failed(format!(
                "include cycle: {}",
                cycle.join(" -> ")
            )));
        }
        if self.chain.len() >= MAX_CHAIN {
            return Err(Error::Failed(format!(
                "{}: includes nested deeper than {MAX_CHAIN} files",
                path.display()
            )));
        }
        self.chain.push(path.to_path_buf());
        let mut tree = self.read_tree(path)?;
        let home = self.env.get("HOME").cloned();
        super::paths::resolve(&mut tree, base_dir, home.as_deref());
        let file_dir = if path.as_os_str() == "-" {
            base_dir.to_path_buf()
        } else {
            path.parent()
                .map_or_else(|| base_dir.to_path_buf(), Path::to_path_buf)
        };
        super::include::apply(self, &mut tree, &file_dir)?;
        super::extends::apply(self, &mut tree, path)?;
        self.chain.pop();
        Ok(tree)
    }
}
