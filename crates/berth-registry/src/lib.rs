//! berth's registry side: the OCI Distribution / Docker Registry v2 client that `pull`, `push`,
//! `login` and tag listing use, and the registry server behind `berth registry serve`
//! ([`serve`], [`Server`]) with its garbage collector ([`collect_garbage`]). Blobs go straight into [`berth_image::ImageStore`]; nothing is
//! trusted that was not hashed on the way in.
//!
//! ```no_run
//! use berth_registry::{Client, ClientConfig, PullOptions, Reference};
//! # fn demo(store: &berth_image::ImageStore) -> berth_registry::Result<()> {
//! let client = Client::new(ClientConfig::default())?;
//! let reference = Reference::parse("localhost:5000/busybox")?;
//! let pulled = client.pull(&reference, store, &PullOptions::default(), &mut |p| {
//!     println!("{}: {}", p.short_id(), p.status);
//! })?;
//! println!("Digest: {}", pulled.manifest_digest);
//! # Ok(())
//! # }
//! ```

mod client;
mod server;

pub use client::{
    Client, ClientConfig, Credentials, DEFAULT_TAG, DOCKER_HUB, DOCUMENT_LIMIT, Descriptor, Error,
    ImageIndex, ImageManifest, ManifestFormat, Platform, Progress, ProgressStatus, PullOptions,
    PulledImage, PushImage, PushOptions, PushedImage, Reference, Result, SearchResult, media_type,
    normalize_registry,
};
pub use server::{
    DeletedBlob, GcError, GcOptions, GcReport, ServeError, Server, ServerConfig, TlsConfig,
    collect_garbage, serve,
};
