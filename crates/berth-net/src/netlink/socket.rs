//! A blocking netlink socket that sends requests (one message or a batch in one datagram) and
//! collects the replies, acknowledgements and errors that belong to them.

use std::collections::BTreeSet;
use std::io;
use std::mem;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{SystemTime, UNIX_EPOCH};

use super::message::{
    Attrs, HEADER_LEN, MessageBuilder, Messages, NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST, NLMSG_DONE,
    NLMSG_ERROR, parse_str,
};
use crate::error::NetlinkError;

pub(crate) const NETLINK_ROUTE: libc::c_int = 0;
pub(crate) const NETLINK_NETFILTER: libc::c_int = 12;

const SOL_NETLINK: libc::c_int = 270;
const NETLINK_CAP_ACK: libc::c_int = 10;
const NETLINK_EXT_ACK: libc::c_int = 11;
/// Flags of an NLMSG_ERROR message: the echoed request is cut to its header / TLVs follow.
const NLM_F_CAPPED: u16 = 0x100;
const NLM_F_ACK_TLVS: u16 = 0x200;
const NLMSGERR_ATTR_MSG: u16 = 1;
/// A dump's content changed while it was read; the caller sees EAGAIN and may retry.
const NLM_F_DUMP_INTR: u16 = 0x10;

const RECEIVE_BUFFER: usize = 64 * 1024;
/// A kernel that takes longer than this to answer a netlink request is broken, not slow.
const RECEIVE_TIMEOUT_SECS: libc::time_t = 10;

pub(crate) struct NetlinkSocket {
    fd: OwnedFd,
    seq: u32,
    buf: Vec<u8>,
}

impl NetlinkSocket {
    /// Opens a socket of `protocol` in the calling thread's network namespace.
    pub(crate) fn open(protocol: libc::c_int) -> io::Result<Self> {
        // SAFETY: socket(2) with constant arguments; the result is checked before use.
        let raw = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                protocol,
            )
        };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a descriptor just returned by socket(2) that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // Best effort: extended acks only add the kernel's explanation to errors.
        let _ = set_option(&fd, SOL_NETLINK, NETLINK_EXT_ACK, &1 as &libc::c_int);
        let _ = set_option(&fd, SOL_NETLINK, NETLINK_CAP_ACK, &1 as &libc::c_int);
        let timeout = libc::timeval {
            tv_sec: RECEIVE_TIMEOUT_SECS,
            tv_usec: 0,
        };
        set_option(&fd, libc::SOL_SOCKET, libc::SO_RCVTIMEO, &timeout)?;
        let seed = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(1);
        Ok(Self {
            fd,
            seq: seed,
            buf: vec![0; RECEIVE_BUFFER],
        })
    }

    /// Sends one request that is acknowledged, returning the messages replied before the ack.
    pub(crate) fn request(
        &mut self,
        mut message: MessageBuilder,
        op: &str,
    ) -> Result<Vec<Vec<u8>>, NetlinkError> {
        message.add_flags(NLM_F_ACK);
        self.transact(vec![message], op)
    }

    /// Sends a dump request, returning every message of the dump.
    pub(crate) fn dump(
        &mut self,
        mut message: MessageBuilder,
        op: &str,
    ) -> Result<Vec<Vec<u8>>, NetlinkError> {
        message.add_flags(NLM_F_DUMP);
        self.transact(vec![message], op)
    }

    /// Sends `messages` in one datagram and waits until every message flagged with ACK or DUMP
    /// was answered. An error for a message that was not expecting an answer (the begin marker
    /// of an nftables batch) ends the wait at once: the kernel rejected the whole batch.
    /// Returns the payloads (after the netlink header) of the data messages received.
    pub(crate) fn transact(
        &mut self,
        messages: Vec<MessageBuilder>,
        op: &str,
    ) -> Result<Vec<Vec<u8>>, NetlinkError> {
        let mut datagram = Vec::new();
        let mut all = BTreeSet::new();
        let mut pending = BTreeSet::new();
        for mut message in messages {
            self.seq = self.seq.wrapping_add(1);
            message.add_flags(NLM_F_REQUEST);
            if message.flags() & (NLM_F_ACK | NLM_F_DUMP) != 0 {
                pending.insert(self.seq);
            }
            all.insert(self.seq);
            datagram.extend_from_slice(&message.finish(self.seq));
        }
        self.send(&datagram)
            .map_err(|e| NetlinkError::new(op, e, None))?;

        let mut replies = Vec::new();
        let mut failure: Option<NetlinkError> = None;
        while !pending.is_empty() {
            let len = self.receive().map_err(|e| NetlinkError::new(op, e, None))?;
            for item in Messages::new(&self.buf[..len]) {
                let (header, payload) = item.map_err(|_| {
                    NetlinkError::new(op, io::Error::from(io::ErrorKind::InvalidData), None)
                })?;
                if !all.contains(&header.seq) {
                    continue; // a late answer to an earlier request on this socket
                }
                match header.message_type {
                    NLMSG_ERROR => {
                        let (code, detail) = parse_error(header.flags, payload);
                        let expected = pending.remove(&header.seq);
                        if code != 0 && failure.is_none() {
                            failure = Some(NetlinkError::new(
                                op,
                                io::Error::from_raw_os_error(-code),
                                detail,
                            ));
                        }
                        if code != 0 && !expected {
                            pending.clear();
                        }
                    }
                    NLMSG_DONE => {
                        pending.remove(&header.seq);
                        let code = payload
                            .get(..4)
                            .map(|b| i32::from_ne_bytes(b.try_into().expect("4 bytes")))
                            .unwrap_or(0);
                        if code < 0 && failure.is_none() {
                            failure = Some(NetlinkError::new(
                                op,
                                io::Error::from_raw_os_error(-code),
                                None,
                            ));
                        }
                    }
                    _ => {
                        if header.flags & NLM_F_DUMP_INTR != 0 && failure.is_none() {
                            failure = Some(NetlinkError::new(
                                op,
                                io::Error::from_raw_os_error(libc::EAGAIN),
                                Some("dump interrupted by a concurrent change".into()),
                            ));
                        }
                        replies.push(payload.to_vec());
                    }
                }
            }
        }
        match failure {
            Some(error) => Err(error),
            None => Ok(replies),
        }
    }

    fn send(&self, datagram: &[u8]) -> io::Result<()> {
        // SAFETY: an all-zero sockaddr_nl is valid; family is set below, pid 0 is the kernel.
        let mut kernel: libc::sockaddr_nl = unsafe { mem::zeroed() };
        kernel.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        loop {
            // SAFETY: the buffer and address pointers are valid for the lengths given.
            let sent = unsafe {
                libc::sendto(
                    self.fd.as_raw_fd(),
                    datagram.as_ptr().cast(),
                    datagram.len(),
                    0,
                    (&raw const kernel).cast(),
                    mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
                )
            };
            if sent >= 0 {
                return Ok(());
            }
            let error = io::Error::last_os_error();
            if error.kind() != io::ErrorKind::Interrupted {
                return Err(error);
            }
        }
    }

    fn receive(&mut self) -> io::Result<usize> {
        loop {
            // SAFETY: `buf` is a valid writable buffer of the length given.
            let len = unsafe {
                libc::recv(
                    self.fd.as_raw_fd(),
                    self.buf.as_mut_ptr().cast(),
                    self.buf.len(),
                    libc::MSG_TRUNC,
                )
            };
            if len >= 0 {
                let len = len as usize;
                if len > self.buf.len() {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("netlink reply of {len} bytes exceeds the receive buffer"),
                    ));
                }
                return Ok(len);
            }
            let error = io::Error::last_os_error();
            if error.kind() != io::ErrorKind::Interrupted {
                return Err(error);
            }
        }
    }
}

/// The errno (0 for an ack) and the kernel's extended-ack message of an NLMSG_ERROR payload.
fn parse_error(flags: u16, payload: &[u8]) -> (i32, Option<String>) {
    let Some(code) = payload.get(..4) else {
        return (-libc::EBADMSG, None);
    };
    let code = i32::from_ne_bytes(code.try_into().expect("4 bytes"));
    if flags & NLM_F_ACK_TLVS == 0 {
        return (code, None);
    }
    let echoed = if flags & NLM_F_CAPPED != 0 {
        HEADER_LEN
    } else {
        payload
            .get(4..8)
            .map(|b| u32::from_ne_bytes(b.try_into().expect("4 bytes")) as usize)
            .unwrap_or(HEADER_LEN)
    };
    let tlvs = payload
        .get(4 + super::message::align(echoed)..)
        .unwrap_or(&[]);
    let detail = Attrs::new(tlvs).find(NLMSGERR_ATTR_MSG).map(parse_str);
    (code, detail)
}

fn set_option<T>(fd: &OwnedFd, level: libc::c_int, name: libc::c_int, value: &T) -> io::Result<()> {
    // SAFETY: `value` points to a live T and the length passed is its size.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (value as *const T).cast(),
            mem::size_of::<T>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_payload_with_extended_ack_message() {
        let mut payload = Vec::new();
        payload.extend_from_slice(&(-libc::EEXIST).to_ne_bytes());
        payload.extend_from_slice(&[0; HEADER_LEN]); // capped echo of the request header
        let message = b"File exists here\0";
        payload.extend_from_slice(&((4 + message.len()) as u16).to_ne_bytes());
        payload.extend_from_slice(&NLMSGERR_ATTR_MSG.to_ne_bytes());
        payload.extend_from_slice(message);
        let (code, detail) = parse_error(NLM_F_CAPPED | NLM_F_ACK_TLVS, &payload);
        assert_eq!(code, -libc::EEXIST);
        assert_eq!(detail.as_deref(), Some("File exists here"));
        assert_eq!(parse_error(0, &0i32.to_ne_bytes()), (0, None));
    }
}
