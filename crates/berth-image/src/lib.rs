//! berth's image storage, files only: a content store of blobs named by digest, layers unpacked
//! once and shared, and the archive formats of `docker load`, `docker save` and `docker import`.
//! Image and tag metadata belong to the engine's database.
//!
//! Everything read from an archive or layer is untrusted: digests are recomputed, JSON reads are
//! bounded, layer entries are created confined to their layer (see [`berth_fs`]), and a failed
//! operation leaves the store as it was.

mod builtin;
mod compression;
mod content;
mod digest;
mod error;
mod extract;
pub use extract::unpack_plain;
mod import;
mod layer;
mod load;
mod oci;
mod platform;
mod reference;
mod rollback;
mod save;
mod store;
#[cfg(test)]
mod test_support;

pub use builtin::{hello_world_config, hello_world_created, hello_world_rootfs};
pub use digest::{ChainId, Digest, chain_id};
pub use error::{Error, Result};
pub use layer::Layer;
pub use load::LoadedImage;
pub use save::SaveImage;
pub use store::ImageStore;
