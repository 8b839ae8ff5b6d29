//! Residents: a resident of the municipality's registry (住民記録) with its 宛名番号, and
//! the search keys a clerk's lookup uses. Its own module, so that the visit (which takes a
//! resident's facts) and the core-system link (which keeps the directory current) both read
//! it without reading each other.

pub mod file;
pub mod model;
pub mod search;

pub use model::{RegistryDate, Resident, addressee_check_digit, is_addressee_number};
