//! Converting v1 resource values to their v2 equivalents.

/// v1 `cpu.shares` (2..=262144, default 1024) to v2 `cpu.weight` (1..=10000, default 100),
/// on a curve that maps the defaults onto each other and the ends of both ranges onto each
/// other, as crun and runc convert. 0 means "not set" and stays 0.
pub(crate) fn cpu_shares_to_weight(shares: u64) -> u64 {
    const MAX_SHARES: u64 = 262_144;
    match shares {
        0 => 0,
        1..=2 => 1,
        MAX_SHARES.. => 10_000,
        _ => {
            // log2(shares) runs over 1..18; the exponent is a parabola through (1, 0),
            // (10, 2) and (18, 4), so 2 -> 10^0, 1024 -> 10^2 and 262144 -> 10^4.
            let l = (shares as f64).log2();
            let exponent = (l * l + 125.0 * l) / 612.0 - 7.0 / 34.0;
            // The tolerance keeps an exact power of ten (1024 -> 100) from rounding up
            // through floating-point noise.
            let weight = (10f64.powf(exponent) - 1e-9).ceil();
            (weight as u64).clamp(1, 10_000)
        }
    }
}

/// v1 `blkio.weight` (10..=1000) to v2 `io.weight` (1..=10000), linearly, as runc does.
pub(crate) fn blkio_weight_to_io_weight(weight: u16) -> u64 {
    1 + (u64::from(weight.clamp(10, 1000)) - 10) * 9999 / 990
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_shares_to_weight_matches_the_reference_curve() {
        for (shares, weight) in [
            (0, 0),
            (1, 1),
            (2, 1),
            (3, 2),
            (10, 4),
            (100, 17),
            (512, 59),
            (1024, 100),
            (2048, 174),
            (4096, 303),
            (10_000, 627),
            (100_000, 4340),
            (262_143, 10_000),
            (262_144, 10_000),
            (1_000_000, 10_000),
        ] {
            assert_eq!(cpu_shares_to_weight(shares), weight, "shares {shares}");
        }
    }

    #[test]
    fn blkio_weight_to_io_weight_spans_the_range() {
        assert_eq!(blkio_weight_to_io_weight(10), 1);
        assert_eq!(blkio_weight_to_io_weight(500), 4950);
        assert_eq!(blkio_weight_to_io_weight(1000), 10_000);
        assert_eq!(blkio_weight_to_io_weight(1), 1);
    }
}
