//! The trainer's subcommands, one module each.
pub mod corpus;
pub mod evaluate;
pub mod export_version;
pub mod import;
pub mod location;
pub mod pretrain;
pub mod report;
pub mod roundtrip;
pub mod session_archive;
pub mod simulate;
pub mod since;
pub mod status;
pub mod train;
pub mod versions;
pub mod vocoder;
pub mod watch;
