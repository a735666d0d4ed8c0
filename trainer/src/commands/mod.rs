//! The trainer's subcommands, one module each.
pub mod corpus;
