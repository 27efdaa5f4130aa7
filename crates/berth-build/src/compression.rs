//! Recognizing tar streams and the compressions Docker accepts for build contexts and ADD
//! archives: none, gzip, bzip2, xz and zstd, told apart by their magic bytes.

use std::io::{self, Cursor, Read};

pub(crate) const BLOCK: usize = 512;

/// Reads until `buf` is full or the stream ends; returns how many bytes were read.
pub(crate) fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// The stream decompressed if its first bytes name a compression, else as is.
pub(crate) fn decompress<'a>(mut r: impl Read + 'a) -> io::Result<Box<dyn Read + 'a>> {
    let mut magic = [0u8; 6];
    let n = read_up_to(&mut r, &mut magic)?;
    let head = magic[..n].to_vec();
    let whole = Cursor::new(head).chain(r);
    Ok(match &magic[..n] {
        [0x1f, 0x8b, ..] => Box::new(flate2::read::MultiGzDecoder::new(whole)),
        [b'B', b'Z', b'h', ..] => Box::new(bzip2::read::MultiBzDecoder::new(whole)),
        [0xfd, b'7', b'z', b'X', b'Z', 0x00] => Box::new(lzma_rust2::XzReader::new(whole, true)),
        [0x28, 0xb5, 0x2f, 0xfd, ..] => Box::new(zstd::stream::read::Decoder::new(whole)?),
        _ => Box::new(whole),
    })
}

/// Whether a 512-byte block is a tar header: not all zeros, with a checksum that adds up.
pub(crate) fn is_tar_header(block: &[u8]) -> bool {
    if block.len() < BLOCK || block.iter().all(|b| *b == 0) {
        return false;
    }
    let field = &block[148..156];
    let digits: String = field
        .iter()
        .map(|b| *b as char)
        .filter(|c| c.is_digit(8))
        .collect();
    let Ok(recorded) = u64::from_str_radix(&digits, 8) else {
        return false;
    };
    let sum: u64 = block[..BLOCK]
        .iter()
        .enumerate()
        .map(|(i, b)| {
            if (148..156).contains(&i) {
                32
            } else {
                u64::from(*b)
            }
        })
        .sum();
    let signed: i64 = block[..BLOCK]
        .iter()
        .enumerate()
        .map(|(i, b)| {
            if (148..156).contains(&i) {
                32
            } else {
                i64::from(*b as i8)
            }
        })
        .sum();
    recorded == sum || recorded as i64 == signed
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn tar_with_one_file() -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(2);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, "f", &b"hi"[..]).unwrap();
        b.into_inner().unwrap()
    }

    fn roundtrip(compressed: Vec<u8>) -> Vec<u8> {
        let mut out = Vec::new();
        decompress(&compressed[..])
            .unwrap()
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    #[test]
    fn decompresses_every_supported_format() {
        let tar = tar_with_one_file();
        assert_eq!(roundtrip(tar.clone()), tar);

        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&tar).unwrap();
        assert_eq!(roundtrip(gz.finish().unwrap()), tar);

        let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
        bz.write_all(&tar).unwrap();
        assert_eq!(roundtrip(bz.finish().unwrap()), tar);

        let mut xz =
            lzma_rust2::XzWriter::new(Vec::new(), lzma_rust2::XzOptions::default()).unwrap();
        xz.write_all(&tar).unwrap();
        assert_eq!(roundtrip(xz.finish().unwrap()), tar);

        assert_eq!(roundtrip(zstd::encode_all(&tar[..], 1).unwrap()), tar);
    }

    #[test]
    fn recognizes_tar_headers() {
        let tar = tar_with_one_file();
        assert!(is_tar_header(&tar[..BLOCK]));
        assert!(!is_tar_header(&[0u8; BLOCK]));
        assert!(!is_tar_header(&[b'F'; BLOCK]));
        let mut broken = tar[..BLOCK].to_vec();
        broken[0] ^= 1;
        assert!(!is_tar_header(&broken));
        assert!(!is_tar_header(b"FROM busybox\n"));
    }
}
