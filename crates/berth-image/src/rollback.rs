//! Undo for multi-step store operations (`load`, `import`): everything they added is removed
//! again unless they commit, and nothing that existed before is touched.

use crate::digest::{ChainId, Digest};
use crate::store::ImageStore;

pub(crate) struct Rollback<'s> {
    store: &'s ImageStore,
    blobs: Vec<Digest>,
    layers: Vec<ChainId>,
    committed: bool,
}

impl<'s> Rollback<'s> {
    pub(crate) fn new(store: &'s ImageStore) -> Self {
        Self {
            store,
            blobs: Vec::new(),
            layers: Vec::new(),
            committed: false,
        }
    }

    /// Records a blob this operation created (pass `created` as reported by the store).
    pub(crate) fn blob(&mut self, digest: &Digest, created: bool) {
        if created {
            self.blobs.push(digest.clone());
        }
    }

    /// Records a layer this operation created.
    pub(crate) fn layer(&mut self, chain: &ChainId, created: bool) {
        if created {
            self.layers.push(chain.clone());
        }
    }

    /// Keeps what was added, except the new blobs that `keep` rejects (scaffolding such as an
    /// archive's own index files).
    pub(crate) fn commit(mut self, keep: impl Fn(&Digest) -> bool) {
        self.committed = true;
        let scaffolding: Vec<Digest> = self.blobs.drain(..).filter(|d| !keep(d)).collect();
        self.remove_blobs(&scaffolding);
    }

    fn remove_blobs(&self, blobs: &[Digest]) {
        for blob in blobs {
            if let Err(e) = self.store.remove_blob(blob) {
                tracing::warn!(%blob, error = %e, "could not remove blob while cleaning up");
            }
        }
    }
}

impl Drop for Rollback<'_> {
    fn drop(&mut self) {
        if self.committed {
            return;
        }
        for chain in self.layers.iter().rev() {
            if let Err(e) = self.store.remove_layer(chain) {
                tracing::warn!(layer = %chain, error = %e, "could not remove layer while rolling back");
            }
        }
        self.remove_blobs(&self.blobs);
    }
}
