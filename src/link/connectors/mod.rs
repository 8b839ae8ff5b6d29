//! The connectors that push applications to core systems (`pull` needs none: the core system
//! reads the pull API).

pub mod file;
pub mod http;
