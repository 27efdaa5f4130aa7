//! End-to-end tests live in tests/; they need root and a built berth.
