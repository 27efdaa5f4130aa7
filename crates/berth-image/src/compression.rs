use std::io::{self, Cursor, Read};

use flate2::read::MultiGzDecoder;

use crate::error::{Error, Result};

/// How a layer blob is compressed, told apart by its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Compression {
    None,
    Gzip,
    Zstd,
}

const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];
const ZSTD_MAGIC: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];
const BZIP2_MAGIC: &[u8] = b"BZh";
const XZ_MAGIC: &[u8] = &[0xfd, b'7', b'z', b'X', b'Z', 0x00];
const MAGIC_LEN: usize = 6;

impl Compression {
    /// The OCI media type of a layer tar compressed this way.
    pub(crate) fn layer_media_type(self) -> &'static str {
        match self {
            Compression::None => "application/vnd.oci.image.layer.v1.tar",
            Compression::Gzip => "application/vnd.oci.image.layer.v1.tar+gzip",
            Compression::Zstd => "application/vnd.oci.image.layer.v1.tar+zstd",
        }
    }
}

/// Detects the compression of `input` and returns it with a reader of the decompressed bytes.
/// `what` names the stream in errors.
pub(crate) fn decompress<'r>(
    mut input: impl Read + 'r,
    what: &str,
) -> Result<(Compression, Box<dyn Read + 'r>)> {
    let mut magic = Vec::with_capacity(MAGIC_LEN);
    (&mut input)
        .take(MAGIC_LEN as u64)
        .read_to_end(&mut magic)
        .map_err(|e| Error::io(format!("reading {what}"), e))?;
    let stream = Cursor::new(magic.clone()).chain(input);
    if magic.starts_with(GZIP_MAGIC) {
        Ok((Compression::Gzip, Box::new(MultiGzDecoder::new(stream))))
    } else if magic.starts_with(ZSTD_MAGIC) {
        let decoder =
            zstd::Decoder::new(stream).map_err(|e| Error::io(format!("reading {what}"), e))?;
        Ok((Compression::Zstd, Box::new(decoder)))
    } else if magic.starts_with(BZIP2_MAGIC) {
        Err(Error::UnsupportedCompression {
            what: what.to_owned(),
            format: "bzip2",
        })
    } else if magic.starts_with(XZ_MAGIC) {
        Err(Error::UnsupportedCompression {
            what: what.to_owned(),
            format: "xz",
        })
    } else {
        Ok((Compression::None, Box::new(stream)))
    }
}

/// Reads `reader` to the end, discarding the bytes (so a hashing wrapper sees all of them).
pub(crate) fn drain(reader: &mut impl Read, what: &str) -> Result<()> {
    io::copy(reader, &mut io::sink())
        .map(drop)
        .map_err(|e| Error::io(format!("reading {what}"), e))
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn round_trip(data: &[u8]) -> (Compression, Vec<u8>) {
        let (kind, mut reader) = decompress(data, "test stream").unwrap();
        let mut out = Vec::new();
        reader.read_to_end(&mut out).unwrap();
        (kind, out)
    }

    #[test]
    fn detects_gzip_zstd_and_plain() {
        let plain = b"plain tar bytes".to_vec();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&plain).unwrap();
        let gz = gz.finish().unwrap();
        let zst = zstd::encode_all(&plain[..], 1).unwrap();
        assert_eq!(round_trip(&plain), (Compression::None, plain.clone()));
        assert_eq!(round_trip(&gz), (Compression::Gzip, plain.clone()));
        assert_eq!(round_trip(&zst), (Compression::Zstd, plain.clone()));
        assert_eq!(round_trip(b"ab"), (Compression::None, b"ab".to_vec()));
    }

    #[test]
    fn refuses_bzip2_and_xz_by_name() {
        let err = decompress(&b"BZh91AY&SY"[..], "layer x").err().unwrap();
        assert_eq!(
            err.to_string(),
            "layer x is compressed with bzip2, which is not supported"
        );
        assert!(decompress(XZ_MAGIC, "layer y").is_err());
    }
}
