//! Dockerfile builds, as Docker's classic builder does them.
mod compression;
mod context;
mod dockerignore;
mod error;
mod expansion;
mod gofmt;
mod instructions;
mod parser;
mod pattern;
#[cfg(test)]
mod testing;
mod tree;

pub use error::{BuildError, HostError, Result};
