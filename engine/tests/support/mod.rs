//! Helpers shared by the engine integration tests.
#![allow(dead_code)]
pub mod npy;
