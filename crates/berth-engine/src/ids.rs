//! Container ids, generated names and name rules, as Docker has them.

/// A new 64-hex id from the kernel's random source.
pub fn new_id() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the kernel's random source is available");
    hex::encode(bytes)
}

/// Docker's rule for container names: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`, with an optional leading `/`.
pub fn validate_name(name: &str) -> Result<&str, String> {
    let bare = name.strip_prefix('/').unwrap_or(name);
    let mut chars = bare.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    let rest_ok = chars.clone().next().is_some()
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if first_ok && rest_ok {
        Ok(bare)
    } else {
        Err(format!(
            "Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
        ))
    }
}

const ADJECTIVES: &[&str] = &[
    "agile", "amber", "bold", "brave", "bright", "calm", "candid", "clever", "cosmic", "crisp",
    "daring", "deft", "eager", "earnest", "fearless", "fluent", "gentle", "glad", "golden",
    "hardy", "humble", "jolly", "keen", "kind", "lucid", "lively", "lucky", "mellow", "merry",
    "nimble", "noble", "patient", "placid", "plucky", "proud", "quick", "quiet", "radiant",
    "rapid", "serene", "sharp", "snug", "steady", "sturdy", "sunny", "swift", "tidy", "tranquil",
    "upbeat", "vivid", "warm", "wise", "witty", "zealous",
];

/// People who shaped computing and the sciences it rests on.
const SURNAMES: &[&str] = &[
    "babbage",
    "backus",
    "bardeen",
    "bell",
    "boole",
    "brattain",
    "cerf",
    "church",
    "codd",
    "conway",
    "corbato",
    "curie",
    "dijkstra",
    "eckert",
    "engelbart",
    "euler",
    "faraday",
    "fermi",
    "feynman",
    "gauss",
    "hamming",
    "hamilton",
    "hilbert",
    "hopper",
    "huffman",
    "kahan",
    "kay",
    "kernighan",
    "knuth",
    "lamport",
    "liskov",
    "lovelace",
    "maxwell",
    "mccarthy",
    "meitner",
    "minsky",
    "noether",
    "perlman",
    "pike",
    "ramanujan",
    "ritchie",
    "shannon",
    "sutherland",
    "tesla",
    "thompson",
    "torvalds",
    "turing",
    "wirth",
    "wozniak",
];

/// A name like `swift_lovelace`; `attempt` > 0 appends a digit, as Docker does after a clash.
pub fn generate_name(attempt: u32) -> String {
    let mut bytes = [0u8; 4];
    getrandom::fill(&mut bytes).expect("the kernel's random source is available");
    let adjective = ADJECTIVES[usize::from(bytes[0]) % ADJECTIVES.len()];
    let surname = SURNAMES[usize::from(bytes[1]) % SURNAMES.len()];
    if attempt == 0 {
        format!("{adjective}_{surname}")
    } else {
        format!("{adjective}_{surname}{}", bytes[2] % 10)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_64_hex() {
        let id = new_id();
        assert_eq!(id.len(), 64);
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(id, new_id());
    }

    #[test]
    fn names_follow_docker_rules() {
        assert_eq!(validate_name("/web-1").unwrap(), "web-1");
        assert_eq!(validate_name("a.b_c").unwrap(), "a.b_c");
        assert!(validate_name("x").is_err());
        assert!(validate_name("-x").is_err());
        assert!(validate_name("a/b").is_err());
        assert!(validate_name("").is_err());
        let generated = generate_name(0);
        assert!(validate_name(&generated).is_ok(), "{generated}");
        assert!(generated.contains('_'));
    }
}
