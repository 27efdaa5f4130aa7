//! Detach keys: the key sequence that ends an interactive session and leaves the container
//! running (Ctrl-P Ctrl-Q unless `--detach-keys` says otherwise). With a TTY the CLI watches
//! for it in what is typed, as docker does; without one the daemon watches its stdin.

/// Ctrl-P Ctrl-Q.
pub const DEFAULT_KEYS: [u8; 2] = [0x10, 0x11];

/// Parses docker's `--detach-keys` format: comma-separated keys, each a single character,
/// `ctrl-X` (X a letter or one of `@[\]^_`) or `DEL`.
pub fn parse_keys(spec: &str) -> Result<Vec<u8>, String> {
    spec.split(',')
        .map(|key| match key.as_bytes() {
            [byte] => Ok(*byte),
            b"DEL" => Ok(0x7f),
            _ => key
                .strip_prefix("ctrl-")
                .and_then(control_code)
                .ok_or_else(|| format!("Unknown character: '{key}'")),
        })
        .collect()
}

/// The code Ctrl and `name` type.
fn control_code(name: &str) -> Option<u8> {
    match name.as_bytes() {
        [letter @ b'a'..=b'z'] => Some(letter - b'a' + 1),
        [b'@'] => Some(0),
        [symbol @ (b'[' | b'\\' | b']' | b'^' | b'_')] => Some(symbol - b'@'),
        _ => None,
    }
}

/// Watches typed input for the detach keys. Keys that may begin the sequence are held back
/// until the next key shows whether they do; what turns out not to be the sequence is
/// passed on, so the container sees everything typed except the sequence itself.
pub struct Escape {
    keys: Vec<u8>,
    /// How many of `keys` the input has matched so far (and holds back).
    matched: usize,
}

impl Escape {
    /// `keys` must not be empty (`parse_keys` never returns an empty sequence).
    pub fn new(keys: Vec<u8>) -> Self {
        assert!(!keys.is_empty(), "empty detach key sequence");
        Escape { keys, matched: 0 }
    }

    /// Scans `input`, appending to `forward` what the container should get. Returns true
    /// when the sequence is complete; `forward` then holds what was typed before it.
    pub fn scan(&mut self, input: &[u8], forward: &mut Vec<u8>) -> bool {
        for &byte in input {
            if byte == self.keys[self.matched] {
                self.matched += 1;
                if self.matched == self.keys.len() {
                    return true;
                }
                continue;
            }
            // Not the sequence after all: release what was held, and see whether this key
            // begins the sequence afresh.
            forward.extend_from_slice(&self.keys[..self.matched]);
            if byte == self.keys[0] {
                self.matched = 1;
            } else {
                self.matched = 0;
                forward.push(byte);
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_names() {
        assert_eq!(parse_keys("ctrl-p,ctrl-q").unwrap(), DEFAULT_KEYS);
        assert_eq!(parse_keys("ctrl-a,x").unwrap(), [1, b'x']);
        assert_eq!(
            parse_keys("ctrl-@,ctrl-[,ctrl-\\,ctrl-],ctrl-^,ctrl-_").unwrap(),
            [0, 27, 28, 29, 30, 31]
        );
        assert_eq!(parse_keys("DEL,ctrl-z").unwrap(), [127, 26]);
    }

    #[test]
    fn bad_key_names_are_reported_as_docker_does() {
        assert_eq!(
            parse_keys("bogus").unwrap_err(),
            "Unknown character: 'bogus'"
        );
        assert_eq!(
            parse_keys("ctrl-p,ctrl-1").unwrap_err(),
            "Unknown character: 'ctrl-1'"
        );
        assert_eq!(
            parse_keys("ctrl-P").unwrap_err(),
            "Unknown character: 'ctrl-P'"
        );
        assert_eq!(parse_keys("").unwrap_err(), "Unknown character: ''");
        assert_eq!(parse_keys("a,,b").unwrap_err(), "Unknown character: ''");
        // One character, but not one byte.
        assert_eq!(parse_keys("é").unwrap_err(), "Unknown character: 'é'");
    }

    fn scan(escape: &mut Escape, input: &[u8]) -> (Vec<u8>, bool) {
        let mut forward = Vec::new();
        let detached = escape.scan(input, &mut forward);
        (forward, detached)
    }

    #[test]
    fn ordinary_input_passes_through() {
        let mut escape = Escape::new(DEFAULT_KEYS.to_vec());
        assert_eq!(scan(&mut escape, b"ls -l\r"), (b"ls -l\r".to_vec(), false));
    }

    #[test]
    fn the_sequence_detaches_and_is_not_forwarded() {
        let mut escape = Escape::new(DEFAULT_KEYS.to_vec());
        assert_eq!(scan(&mut escape, b"ab\x10\x11cd"), (b"ab".to_vec(), true));
    }

    #[test]
    fn the_sequence_may_span_reads() {
        let mut escape = Escape::new(DEFAULT_KEYS.to_vec());
        assert_eq!(scan(&mut escape, b"a\x10"), (b"a".to_vec(), false));
        assert_eq!(scan(&mut escape, b"\x11"), (Vec::new(), true));
    }

    #[test]
    fn a_held_key_is_released_when_the_sequence_breaks() {
        let mut escape = Escape::new(DEFAULT_KEYS.to_vec());
        assert_eq!(scan(&mut escape, b"\x10"), (Vec::new(), false));
        assert_eq!(scan(&mut escape, b"x"), (b"\x10x".to_vec(), false));
        // A repeated first key restarts the sequence rather than breaking it.
        assert_eq!(scan(&mut escape, b"\x10\x10"), (b"\x10".to_vec(), false));
        assert_eq!(scan(&mut escape, b"\x11"), (Vec::new(), true));
    }

    #[test]
    fn single_key_sequences() {
        let mut escape = Escape::new(parse_keys("ctrl-x").unwrap());
        assert_eq!(scan(&mut escape, b"abc\x18def"), (b"abc".to_vec(), true));
    }
}
