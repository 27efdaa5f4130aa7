//! Building and reading netlink messages: a header, a family-specific fixed part, then
//! type-length-value attributes, each padded to four bytes (`man 7 netlink`).

/// `sizeof(struct nlmsghdr)`.
pub(crate) const HEADER_LEN: usize = 16;
/// Attribute header length (`struct nlattr`).
const ATTR_HEADER_LEN: usize = 4;
/// Marks an attribute whose payload is itself a list of attributes.
pub(crate) const NLA_F_NESTED: u16 = 1 << 15;
const NLA_TYPE_MASK: u16 = !(NLA_F_NESTED | (1 << 14));

pub(crate) const NLMSG_ERROR: u16 = 2;
pub(crate) const NLMSG_DONE: u16 = 3;

pub(crate) const NLM_F_REQUEST: u16 = 0x1;
pub(crate) const NLM_F_ACK: u16 = 0x4;
pub(crate) const NLM_F_DUMP: u16 = 0x300;
pub(crate) const NLM_F_REPLACE: u16 = 0x100;
pub(crate) const NLM_F_EXCL: u16 = 0x200;
pub(crate) const NLM_F_CREATE: u16 = 0x400;
pub(crate) const NLM_F_APPEND: u16 = 0x800;

pub(crate) const fn align(len: usize) -> usize {
    (len + 3) & !3
}

/// One outgoing message. The sequence number is filled in by the socket that sends it.
#[derive(Debug, Clone)]
pub(crate) struct MessageBuilder {
    buf: Vec<u8>,
}

/// An open nested attribute, closed by [`MessageBuilder::end_nested`].
#[must_use = "a nested attribute must be closed with end_nested"]
pub(crate) struct Nest(usize);

impl MessageBuilder {
    pub(crate) fn new(message_type: u16, flags: u16) -> Self {
        let mut buf = vec![0; HEADER_LEN];
        buf[4..6].copy_from_slice(&message_type.to_ne_bytes());
        buf[6..8].copy_from_slice(&flags.to_ne_bytes());
        Self { buf }
    }

    #[cfg(test)]
    pub(crate) fn message_type(&self) -> u16 {
        u16::from_ne_bytes([self.buf[4], self.buf[5]])
    }

    pub(crate) fn flags(&self) -> u16 {
        u16::from_ne_bytes([self.buf[6], self.buf[7]])
    }

    pub(crate) fn add_flags(&mut self, flags: u16) {
        let all = self.flags() | flags;
        self.buf[6..8].copy_from_slice(&all.to_ne_bytes());
    }

    /// Appends the family header (`ifinfomsg`, `nfgenmsg`, ...), padded.
    pub(crate) fn fixed(&mut self, bytes: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(bytes);
        self.pad();
        self
    }

    pub(crate) fn attr(&mut self, attr_type: u16, value: &[u8]) -> &mut Self {
        let len =
            u16::try_from(ATTR_HEADER_LEN + value.len()).expect("netlink attribute over 64 KiB");
        self.buf.extend_from_slice(&len.to_ne_bytes());
        self.buf.extend_from_slice(&attr_type.to_ne_bytes());
        self.buf.extend_from_slice(value);
        self.pad();
        self
    }

    /// A NUL-terminated string attribute.
    pub(crate) fn attr_str(&mut self, attr_type: u16, value: &str) -> &mut Self {
        let mut bytes = Vec::with_capacity(value.len() + 1);
        bytes.extend_from_slice(value.as_bytes());
        bytes.push(0);
        self.attr(attr_type, &bytes)
    }

    pub(crate) fn attr_u32(&mut self, attr_type: u16, value: u32) -> &mut Self {
        self.attr(attr_type, &value.to_ne_bytes())
    }

    /// Network byte order, as nftables wants its integers.
    pub(crate) fn attr_u32_be(&mut self, attr_type: u16, value: u32) -> &mut Self {
        self.attr(attr_type, &value.to_be_bytes())
    }

    pub(crate) fn attr_u64_be(&mut self, attr_type: u16, value: u64) -> &mut Self {
        self.attr(attr_type, &value.to_be_bytes())
    }

    pub(crate) fn begin_nested(&mut self, attr_type: u16) -> Nest {
        let start = self.buf.len();
        self.attr(attr_type, &[]);
        Nest(start)
    }

    pub(crate) fn end_nested(&mut self, nest: Nest) {
        let len =
            u16::try_from(self.buf.len() - nest.0).expect("nested netlink attribute over 64 KiB");
        self.buf[nest.0..nest.0 + 2].copy_from_slice(&len.to_ne_bytes());
    }

    fn pad(&mut self) {
        self.buf.resize(align(self.buf.len()), 0);
    }

    /// The finished message bytes with length and sequence number set.
    pub(crate) fn finish(mut self, seq: u32) -> Vec<u8> {
        let len = u32::try_from(self.buf.len()).expect("netlink message over 4 GiB");
        self.buf[0..4].copy_from_slice(&len.to_ne_bytes());
        self.buf[8..12].copy_from_slice(&seq.to_ne_bytes());
        self.buf
    }

    #[cfg(test)]
    pub(crate) fn payload(&self) -> &[u8] {
        &self.buf[HEADER_LEN..]
    }
}

/// The header of a received message.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Header {
    pub(crate) message_type: u16,
    pub(crate) flags: u16,
    pub(crate) seq: u32,
}

/// Iterates over the messages of one received datagram.
pub(crate) struct Messages<'a> {
    rest: &'a [u8],
}

impl<'a> Messages<'a> {
    pub(crate) fn new(datagram: &'a [u8]) -> Self {
        Self { rest: datagram }
    }
}

impl<'a> Iterator for Messages<'a> {
    /// The header and the payload after it, or the byte count where the datagram stops making
    /// sense.
    type Item = Result<(Header, &'a [u8]), usize>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        if self.rest.len() < HEADER_LEN {
            let bad = self.rest.len();
            self.rest = &[];
            return Some(Err(bad));
        }
        let len = u32::from_ne_bytes(self.rest[0..4].try_into().expect("4 bytes")) as usize;
        if len < HEADER_LEN || len > self.rest.len() {
            let bad = self.rest.len();
            self.rest = &[];
            return Some(Err(bad));
        }
        let header = Header {
            message_type: u16::from_ne_bytes([self.rest[4], self.rest[5]]),
            flags: u16::from_ne_bytes([self.rest[6], self.rest[7]]),
            seq: u32::from_ne_bytes(self.rest[8..12].try_into().expect("4 bytes")),
        };
        let payload = &self.rest[HEADER_LEN..len];
        self.rest = &self.rest[align(len).min(self.rest.len())..];
        Some(Ok((header, payload)))
    }
}

/// Iterates over a run of attributes; yields `(type without flag bits, payload)` and stops at
/// the first malformed one.
#[derive(Clone)]
pub(crate) struct Attrs<'a> {
    rest: &'a [u8],
}

impl<'a> Attrs<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Self { rest: bytes }
    }

    /// The payload of the first attribute of this type.
    pub(crate) fn find(&self, attr_type: u16) -> Option<&'a [u8]> {
        self.clone()
            .find_map(|(t, v)| (t == attr_type).then_some(v))
    }
}

impl<'a> Iterator for Attrs<'a> {
    type Item = (u16, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.len() < ATTR_HEADER_LEN {
            return None;
        }
        let len = u16::from_ne_bytes([self.rest[0], self.rest[1]]) as usize;
        let attr_type = u16::from_ne_bytes([self.rest[2], self.rest[3]]) & NLA_TYPE_MASK;
        if len < ATTR_HEADER_LEN || len > self.rest.len() {
            self.rest = &[];
            return None;
        }
        let value = &self.rest[ATTR_HEADER_LEN..len];
        self.rest = &self.rest[align(len).min(self.rest.len())..];
        Some((attr_type, value))
    }
}

/// A NUL-terminated (or not) string attribute payload.
pub(crate) fn parse_str(value: &[u8]) -> String {
    let end = value.iter().position(|&b| b == 0).unwrap_or(value.len());
    String::from_utf8_lossy(&value[..end]).into_owned()
}

pub(crate) fn parse_u32_ne(value: &[u8]) -> Option<u32> {
    Some(u32::from_ne_bytes(value.get(..4)?.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_are_padded_and_nested_lengths_cover_children() {
        let mut msg = MessageBuilder::new(16, NLM_F_REQUEST);
        msg.fixed(&[1, 2, 3]);
        let nest = msg.begin_nested(18 | NLA_F_NESTED);
        msg.attr_str(1, "veth");
        msg.end_nested(nest);
        let bytes = msg.finish(7);
        assert_eq!(bytes.len(), 16 + 4 + 4 + 4 + 8);
        assert_eq!(
            u32::from_ne_bytes(bytes[0..4].try_into().unwrap()) as usize,
            bytes.len()
        );
        assert_eq!(u32::from_ne_bytes(bytes[8..12].try_into().unwrap()), 7);

        let (header, payload) = Messages::new(&bytes).next().unwrap().unwrap();
        assert_eq!(header.message_type, 16);
        assert_eq!(header.seq, 7);
        let outer: Vec<_> = Attrs::new(&payload[4..]).collect();
        assert_eq!(outer.len(), 1);
        assert_eq!(outer[0].0, 18, "flag bits are masked off");
        let inner = Attrs::new(outer[0].1);
        assert_eq!(parse_str(inner.find(1).unwrap()), "veth");
    }

    #[test]
    fn truncated_input_stops_iteration() {
        assert!(Attrs::new(&[8, 0, 1, 0, 0]).next().is_none());
        let bad = [40u8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        assert!(matches!(Messages::new(&bad).next(), Some(Err(16))));
    }
}
