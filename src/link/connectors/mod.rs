//! The connectors that push applications to core systems (`pull` needs none: the core system
//! reads the pull API), and the sender of webhook messages to vendors.

pub mod file;
pub mod http;
pub mod webhook;
