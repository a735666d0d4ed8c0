//! The trainer's subcommands, one module each.
pub mod corpus;
pub mod evaluate;
pub mod export;
pub mod pretrain;
pub mod report;
pub mod roundtrip;
