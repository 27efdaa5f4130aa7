//! The registry server (`berth registry serve`) in-process on 127.0.0.1:0, driven by raw HTTP
//! (`api`) and by real clients (`clients`): berth's own, skopeo, curl over TLS and the docker CLI;
//! its garbage collector running beside it (`gc`); upload limits, expiry and crashes (`uploads`);
//! token authentication (`token`).

#[allow(
    dead_code,
    reason = "shared with tests/registry.rs, which uses the rest of it"
)]
#[path = "../common/mod.rs"]
mod common;

mod api;
mod clients;
mod gc;
mod support;
mod token;
mod uploads;
