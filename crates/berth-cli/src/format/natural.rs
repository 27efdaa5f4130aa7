//! Natural order, as docker sorts volume and network names and port mappings: runs of
//! digits compare as numbers ("net2" before "net10"), digits before other characters.

use std::cmp::Ordering;

/// Compares `a` and `b` in natural order.
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        let (digit_a, digit_b) = (a[i].is_ascii_digit(), b[j].is_ascii_digit());
        if digit_a != digit_b {
            return if digit_a {
                Ordering::Less
            } else {
                Ordering::Greater
            };
        }
        if !digit_a {
            if a[i] != b[j] {
                return a[i].cmp(&b[j]);
            }
            i += 1;
            j += 1;
            continue;
        }
        let zeros = |s: &[u8], mut k: usize| {
            while k < s.len() && s[k] == b'0' {
                k += 1;
            }
            k
        };
        let digits = |s: &[u8], mut k: usize| {
            while k < s.len() && s[k].is_ascii_digit() {
                k += 1;
            }
            k
        };
        let (start_a, start_b) = (zeros(a, i), zeros(b, j));
        let (end_a, end_b) = (digits(a, start_a), digits(b, start_b));
        let order = (end_a - start_a)
            .cmp(&(end_b - start_b))
            .then_with(|| a[start_a..end_a].cmp(&b[start_b..end_b]))
            // The same number: fewer leading zeros first.
            .then_with(|| start_a.cmp(&start_b));
        if order != Ordering::Equal {
            return order;
        }
        (i, j) = (end_a, end_b);
    }
    (a.len() - i).cmp(&(b.len() - j))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_compare_by_value() {
        let mut names = vec!["net10", "net2", "Net1", "net1", "net", "a-1", "a0", "net01"];
        names.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(
            names,
            ["Net1", "a0", "a-1", "net", "net1", "net01", "net2", "net10"]
        );
        assert_eq!(natural_cmp("80/tcp -> x", "443/tcp -> y"), Ordering::Less);
        assert_eq!(natural_cmp("same", "same"), Ordering::Equal);
    }
}
