//! The small part of the DNS wire format (RFC 1035) the embedded server needs: read a query's
//! header and question, write a response with A or PTR answers.

use std::net::{Ipv4Addr, Ipv6Addr};

pub(crate) const TYPE_A: u16 = 1;
pub(crate) const TYPE_PTR: u16 = 12;
pub(crate) const TYPE_AAAA: u16 = 28;
const CLASS_IN: u16 = 1;

pub(crate) const RCODE_NOERROR: u8 = 0;
pub(crate) const RCODE_FORMERR: u8 = 1;
pub(crate) const RCODE_SERVFAIL: u8 = 2;
pub(crate) const RCODE_NOTIMP: u8 = 4;

const HEADER_LEN: usize = 12;
const FLAG_QR: u16 = 0x8000;
const FLAG_TC: u16 = 0x0200;
const FLAG_RD: u16 = 0x0100;
const FLAG_RA: u16 = 0x0080;
const OPCODE_MASK: u16 = 0x7800;
/// Without EDNS a UDP answer must fit in 512 bytes; past that the client retries over TCP.
pub(crate) const UDP_LIMIT: usize = 512;
/// Docker's TTL for container names.
const TTL: u32 = 600;
const MAX_NAME: usize = 255;

/// A parsed query: what is asked, and the raw question section to echo back.
#[derive(Debug)]
pub(crate) struct Query<'a> {
    pub(crate) id: u16,
    flags: u16,
    /// Lower case, without the trailing dot.
    pub(crate) name: String,
    pub(crate) qtype: u16,
    pub(crate) qclass: u16,
    question: &'a [u8],
}

/// Why a packet is not a query this server answers.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Rejection {
    /// Not even a header (or a response): drop it.
    Drop,
    /// Answer with this rcode, echoing the header's id.
    Error { id: u16, flags: u16, rcode: u8 },
}

pub(crate) fn parse_query(packet: &[u8]) -> Result<Query<'_>, Rejection> {
    if packet.len() < HEADER_LEN {
        return Err(Rejection::Drop);
    }
    let id = u16::from_be_bytes([packet[0], packet[1]]);
    let flags = u16::from_be_bytes([packet[2], packet[3]]);
    if flags & FLAG_QR != 0 {
        return Err(Rejection::Drop);
    }
    let error = |rcode| Rejection::Error { id, flags, rcode };
    if flags & OPCODE_MASK != 0 {
        return Err(error(RCODE_NOTIMP));
    }
    if u16::from_be_bytes([packet[4], packet[5]]) != 1 {
        return Err(error(RCODE_FORMERR));
    }
    let mut at = HEADER_LEN;
    let mut labels: Vec<String> = Vec::new();
    loop {
        let len = usize::from(*packet.get(at).ok_or_else(|| error(RCODE_FORMERR))?);
        at += 1;
        if len == 0 {
            break;
        }
        // Compression pointers and extended label types have no place in a question.
        if len > 63 {
            return Err(error(RCODE_FORMERR));
        }
        let label = packet
            .get(at..at + len)
            .ok_or_else(|| error(RCODE_FORMERR))?;
        labels.push(String::from_utf8_lossy(label).to_ascii_lowercase());
        at += len;
        if at - HEADER_LEN > MAX_NAME {
            return Err(error(RCODE_FORMERR));
        }
    }
    let fixed = packet.get(at..at + 4).ok_or_else(|| error(RCODE_FORMERR))?;
    Ok(Query {
        id,
        flags,
        name: labels.join("."),
        qtype: u16::from_be_bytes([fixed[0], fixed[1]]),
        qclass: u16::from_be_bytes([fixed[2], fixed[3]]),
        question: &packet[HEADER_LEN..at + 4],
    })
}

impl Query<'_> {
    pub(crate) fn is_class_in(&self) -> bool {
        self.qclass == CLASS_IN
    }
}

/// An answer record's data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Rdata {
    A(Ipv4Addr),
    Aaaa(Ipv6Addr),
    Ptr(String),
}

fn response_flags(query_flags: u16, rcode: u8) -> u16 {
    FLAG_QR | (query_flags & (OPCODE_MASK | FLAG_RD)) | FLAG_RA | u16::from(rcode)
}

/// A response to `query` with `answers`, each owned by the question's name. Answers that do
/// not fit in `limit` bytes are left out and the response is marked truncated.
pub(crate) fn response(query: &Query<'_>, rcode: u8, answers: &[Rdata], limit: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(UDP_LIMIT);
    out.extend_from_slice(&query.id.to_be_bytes());
    out.extend_from_slice(&response_flags(query.flags, rcode).to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes());
    out.extend_from_slice(&[0; 6]); // answer, authority and additional counts
    out.extend_from_slice(query.question);
    let mut count: u16 = 0;
    for answer in answers {
        let mut record = Vec::new();
        record.extend_from_slice(&[0xc0, HEADER_LEN as u8]); // pointer to the question's name
        let (rtype, rdata) = match answer {
            Rdata::A(ip) => (TYPE_A, ip.octets().to_vec()),
            Rdata::Aaaa(ip) => (TYPE_AAAA, ip.octets().to_vec()),
            Rdata::Ptr(name) => (TYPE_PTR, encode_name(name)),
        };
        record.extend_from_slice(&rtype.to_be_bytes());
        record.extend_from_slice(&CLASS_IN.to_be_bytes());
        record.extend_from_slice(&TTL.to_be_bytes());
        record.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        record.extend_from_slice(&rdata);
        if out.len() + record.len() > limit {
            let flags = u16::from_be_bytes([out[2], out[3]]) | FLAG_TC;
            out[2..4].copy_from_slice(&flags.to_be_bytes());
            break;
        }
        out.extend_from_slice(&record);
        count += 1;
    }
    out[6..8].copy_from_slice(&count.to_be_bytes());
    out
}

/// A header-only error response (no question could be read back).
pub(crate) fn error_response(id: u16, query_flags: u16, rcode: u8) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN);
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&response_flags(query_flags, rcode).to_be_bytes());
    out.extend_from_slice(&[0; 8]);
    out
}

fn encode_name(name: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(name.len() + 2);
    for label in name.split('.').filter(|l| !l.is_empty()) {
        let label = &label.as_bytes()[..label.len().min(63)];
        out.push(label.len() as u8);
        out.extend_from_slice(label);
    }
    out.push(0);
    out
}

/// The id of a DNS message, if it has a header.
pub(crate) fn message_id(packet: &[u8]) -> Option<u16> {
    Some(u16::from_be_bytes([*packet.first()?, *packet.get(1)?]))
}

/// Whether a message is a response (QR set).
pub(crate) fn is_response(packet: &[u8]) -> bool {
    packet.len() >= HEADER_LEN && packet[2] & 0x80 != 0
}

/// The reverse-lookup name's IPv4 address (`4.3.2.1.in-addr.arpa` is 1.2.3.4).
pub(crate) fn reverse_ipv4(name: &str) -> Option<Ipv4Addr> {
    let digits = name.strip_suffix(".in-addr.arpa")?;
    let mut octets = [0u8; 4];
    let mut parts = digits.split('.');
    for octet in octets.iter_mut().rev() {
        *octet = parts.next()?.parse().ok()?;
    }
    parts.next().is_none().then_some(Ipv4Addr::from(octets))
}

/// Builds a query, for tests and the stub resolvers in them.
#[cfg(test)]
pub(crate) fn build_query(id: u16, name: &str, qtype: u16) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&FLAG_RD.to_be_bytes());
    out.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
    out.extend_from_slice(&encode_name(name));
    out.extend_from_slice(&qtype.to_be_bytes());
    out.extend_from_slice(&CLASS_IN.to_be_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_round_trip_with_a_answers() {
        let packet = build_query(0x1234, "Web.Example", TYPE_A);
        let query = parse_query(&packet).unwrap();
        assert_eq!(query.id, 0x1234);
        assert_eq!(query.name, "web.example");
        assert_eq!(query.qtype, TYPE_A);
        assert!(query.is_class_in());
        let answer = response(
            &query,
            RCODE_NOERROR,
            &[
                Rdata::A(Ipv4Addr::new(10, 0, 0, 2)),
                Rdata::A(Ipv4Addr::new(10, 0, 0, 3)),
            ],
            UDP_LIMIT,
        );
        assert!(is_response(&answer));
        assert_eq!(message_id(&answer), Some(0x1234));
        assert_eq!(answer[3] & 0x0f, RCODE_NOERROR);
        assert_eq!(u16::from_be_bytes([answer[6], answer[7]]), 2);
        assert_eq!(&answer[answer.len() - 4..], &[10, 0, 0, 3]);
        // RD echoed, RA set.
        assert_eq!(answer[2] & 0x01, 0x01);
        assert_eq!(answer[3] & 0x80, 0x80);
    }

    #[test]
    fn too_many_answers_are_truncated() {
        let packet = build_query(1, "many", TYPE_A);
        let query = parse_query(&packet).unwrap();
        let answers: Vec<_> = (0..100)
            .map(|i| Rdata::A(Ipv4Addr::new(10, 0, 0, i)))
            .collect();
        let answer = response(&query, RCODE_NOERROR, &answers, UDP_LIMIT);
        assert!(answer.len() <= UDP_LIMIT);
        assert_ne!(answer[2] & 0x02, 0, "TC set");
    }

    #[test]
    fn malformed_queries() {
        assert_eq!(parse_query(&[0; 5]).unwrap_err(), Rejection::Drop);
        let mut response_packet = build_query(7, "a", TYPE_A);
        response_packet[2] |= 0x80;
        assert_eq!(parse_query(&response_packet).unwrap_err(), Rejection::Drop);
        let mut two_questions = build_query(7, "a", TYPE_A);
        two_questions[5] = 2;
        assert!(matches!(
            parse_query(&two_questions),
            Err(Rejection::Error {
                id: 7,
                rcode: RCODE_FORMERR,
                ..
            })
        ));
        let mut pointer = build_query(7, "a", TYPE_A);
        pointer[12] = 0xc0;
        assert!(matches!(
            parse_query(&pointer),
            Err(Rejection::Error { .. })
        ));
        let mut truncated = build_query(7, "abc", TYPE_A);
        truncated.truncate(15);
        assert!(matches!(
            parse_query(&truncated),
            Err(Rejection::Error { .. })
        ));
        let mut status = build_query(7, "a", TYPE_A);
        status[2] |= 0x10; // opcode 2, STATUS
        assert!(matches!(
            parse_query(&status),
            Err(Rejection::Error {
                rcode: RCODE_NOTIMP,
                ..
            })
        ));
    }

    #[test]
    fn reverse_names() {
        assert_eq!(
            reverse_ipv4("2.0.18.172.in-addr.arpa"),
            Some(Ipv4Addr::new(172, 18, 0, 2))
        );
        assert_eq!(reverse_ipv4("0.18.172.in-addr.arpa"), None);
        assert_eq!(reverse_ipv4("example.com"), None);
        let packet = build_query(9, "2.0.18.172.in-addr.arpa", TYPE_PTR);
        let query = parse_query(&packet).unwrap();
        let answer = response(
            &query,
            RCODE_NOERROR,
            &[Rdata::Ptr("web".into())],
            UDP_LIMIT,
        );
        assert_eq!(&answer[answer.len() - 5..], &[3, b'w', b'e', b'b', 0]);
    }
}
