//! Handing bytes from blocking code (tar writers) to async response bodies.

use bytes::Bytes;
use tokio::sync::mpsc;

pub type ByteStream = mpsc::Receiver<std::io::Result<Bytes>>;

/// A `Write` whose bytes arrive, chunk by chunk, in the paired receiver.
pub struct ChannelWriter {
    tx: mpsc::Sender<std::io::Result<Bytes>>,
}

impl ChannelWriter {
    pub fn new() -> (Self, ByteStream) {
        let (tx, rx) = mpsc::channel(16);
        (ChannelWriter { tx }, rx)
    }

    /// Ends the stream with an error the client sees as a broken transfer.
    pub fn fail(&self, message: String) {
        let _ = self.tx.blocking_send(Err(std::io::Error::other(message)));
    }
}

impl std::io::Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.tx
            .blocking_send(Ok(Bytes::copy_from_slice(buf)))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "client went away"))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
