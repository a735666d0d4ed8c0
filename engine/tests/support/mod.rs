//! Helpers shared by the engine integration tests.
#![allow(dead_code)]
pub mod feedback;
pub mod npy;
pub mod tiny;

/// `len` bytes of a fixed xorshift stream: garbage that is the same on every run, so a failure
/// with it is reproducible.
pub fn garbage(len: usize) -> Vec<u8> {
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}
