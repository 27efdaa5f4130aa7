//! Filesystem helpers for paths that come from untrusted input.
//!
//! - [`Root`] resolves relative paths inside a directory with `openat2(RESOLVE_IN_ROOT)`, so
//!   neither `..` nor a symlink (relative or absolute) can lead out of it.
//! - [`Dir`] is an open directory; everything it creates, links or changes is named by a single
//!   component relative to it (`*at` syscalls, final component never followed).
//! - [`atomic_write`] replaces a file so that readers see the old or the new content, never a mix.
//! - Every [`Error`] names the path and the operation that failed.
//!
//! Some operations go through `/proc/self/fd` (setting the mode or xattrs of a node without
//! following it), so `/proc` must be mounted.

mod atomic;
mod dir;
mod error;
mod root;

pub use atomic::atomic_write;
pub use dir::{Dir, NodeKind};
pub use error::{Error, Result};
pub use root::{Root, resolve_in_root};
pub use rustix::fs::{FileType, Mode, OFlags};
