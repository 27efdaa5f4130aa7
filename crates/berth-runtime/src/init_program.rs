//! The init Docker's `--init` runs as pid 1 (`/sbin/docker-init -- command...`), a static
//! program written in C (`init/berth-init.c`): it forwards signals to the command, reaps
//! zombies and exits as the command did.

/// The init program, compiled by the build script. The engine writes it to a file and binds
/// it at `/sbin/docker-init`.
pub fn init_binary() -> &'static [u8] {
    include_bytes!(concat!(env!("OUT_DIR"), "/berth-init"))
}
