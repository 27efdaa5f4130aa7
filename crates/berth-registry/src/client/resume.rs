//! A layer download that survives dropped connections. When the body ends before the blob's
//! size, or a read fails, the blob is asked for again from the first byte not yet received
//! (`Range: bytes=N-`), as docker does, and reading goes on as if nothing happened: the
//! content store, which hashes what it reads, sees one unbroken stream. A server that ignores
//! the range sends the whole blob again, and the bytes already received are skipped.

use std::io::{self, Read};
use std::thread;
use std::time::Duration;

use ureq::BodyReader;
use ureq::http::{Method, StatusCode, header};

use crate::client::error::Error;
use crate::client::session::{Call, Session};

/// How many times in a row a download starts again without receiving a byte in between.
const RESUMES_IN_A_ROW: u32 = 5;

/// The wait before the first new attempt; it doubles with each attempt in a row.
const FIRST_WAIT: Duration = Duration::from_millis(100);

pub(crate) struct ResumableBlob<'s> {
    session: &'s Session<'s>,
    /// The registry's URL of the blob (not where it redirected to: such links expire).
    url: String,
    size: u64,
    body: BodyReader<'static>,
    received: u64,
    /// Attempts since the last byte received.
    failed_attempts: u32,
}

impl<'s> ResumableBlob<'s> {
    /// Reads `body`, the answer to a GET of `url` for a blob of `size` bytes.
    pub(crate) fn new(
        session: &'s Session<'s>,
        url: String,
        size: u64,
        body: BodyReader<'static>,
    ) -> Self {
        Self {
            session,
            url,
            size,
            body,
            received: 0,
            failed_attempts: 0,
        }
    }

    /// Asks for the rest of the blob after a failure: `Ok` with the new body, or the error
    /// that ends the download.
    fn resume(&mut self, failure: io::Error) -> io::Result<()> {
        let mut failure = failure;
        loop {
            if self.failed_attempts == RESUMES_IN_A_ROW {
                let reason = format!(
                    "{failure} (after {RESUMES_IN_A_ROW} attempts to resume at byte {} of {})",
                    self.received, self.size
                );
                return Err(io::Error::new(failure.kind(), reason));
            }
            thread::sleep(FIRST_WAIT * 2u32.pow(self.failed_attempts));
            self.failed_attempts += 1;
            tracing::info!(url = %self.url, at = self.received, error = %failure, "resuming a blob download");
            match self.reopen() {
                Ok(body) => {
                    self.body = body;
                    return Ok(());
                }
                Err(Reopen::Broken(e)) => failure = e,
                Err(Reopen::Refused(e)) => return Err(io::Error::other(e)),
            }
        }
    }

    /// A body that continues at byte `received`.
    fn reopen(&self) -> Result<BodyReader<'static>, Reopen> {
        let range = format!("bytes={}-", self.received);
        let call = Call::new(Method::GET, self.url.clone()).header("Range", range);
        let response = match self.session.send(call) {
            Ok(response) => response,
            Err(Error::Transport { source, .. }) => {
                return Err(Reopen::Broken(io::Error::other(source)));
            }
            Err(e) => return Err(Reopen::Refused(e)),
        };
        let status = response.status();
        if status == StatusCode::PARTIAL_CONTENT {
            let start = response
                .headers()
                .get(header::CONTENT_RANGE)
                .and_then(|v| v.to_str().ok())
                .and_then(range_start);
            if start != Some(self.received) {
                return Err(Reopen::Refused(Error::Protocol {
                    method: "GET".to_owned(),
                    url: self.url.clone(),
                    reason: format!(
                        "asked for the blob from byte {}, got Content-Range {:?}",
                        self.received,
                        response.headers().get(header::CONTENT_RANGE)
                    ),
                }));
            }
            return Ok(response.into_body().into_reader());
        }
        if !status.is_success() {
            let refusal = self.session.error(&Method::GET, &self.url, response);
            return Err(Reopen::Refused(refusal));
        }
        let mut body = response.into_body().into_reader();
        let skipped = io::copy(&mut (&mut body).take(self.received), &mut io::sink())
            .map_err(Reopen::Broken)?;
        if skipped < self.received {
            return Err(Reopen::Broken(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the blob ended again before the bytes already received",
            )));
        }
        Ok(body)
    }
}

/// Why a download could not go on.
enum Reopen {
    /// The connection failed again, or broke while skipping: worth another attempt.
    Broken(io::Error),
    /// The registry answered, and not with the blob: no point in asking again.
    Refused(Error),
}

impl Read for ResumableBlob<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let failure = match self.body.read(buf) {
                Ok(0) if !buf.is_empty() && self.received < self.size => io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the connection closed before the end of the blob",
                ),
                Ok(n) => {
                    if n > 0 {
                        self.failed_attempts = 0;
                    }
                    self.received += n as u64;
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // Past the blob's size there is nothing to resume: the store refuses the excess.
                Err(e) if self.received >= self.size => return Err(e),
                Err(e) => e,
            };
            self.resume(failure)?;
        }
    }
}

/// The first byte of a `Content-Range: bytes <first>-<last>/<size>` header.
fn range_start(value: &str) -> Option<u64> {
    let range = value.trim().strip_prefix("bytes ")?;
    let (first, _) = range.split_once('-')?;
    first.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::range_start;

    #[test]
    fn content_range_gives_its_first_byte() {
        assert_eq!(range_start("bytes 100-199/200"), Some(100));
        assert_eq!(range_start("bytes 0-0/*"), Some(0));
        assert_eq!(range_start("bytes */200"), None);
        assert_eq!(range_start("items 1-2/3"), None);
    }
}
