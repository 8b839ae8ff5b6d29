//! The core-system link (DESIGN §2 steps 2 and 8): the resident directory kept current from the
//! 住民記録 system's full and differential files, and the lookups a clerk makes in it.

pub mod directory;
pub mod import;
pub mod jobs;
pub mod sample;
pub mod search;
