//! berth-fs
