//! Standard form data: the schema registry (forms, common schemas, era table, dialects),
//! normalization of what clerks type, and validation with messages that name each field by its
//! Japanese label. Free of HTTP: the edge calls [`FormRegistry`].

pub mod crosscheck;
pub mod dialect;
pub mod era;
pub mod instance;
pub mod normalize;
pub mod plan;
pub mod registry;
pub mod shape;
pub mod source;
pub mod validate;

pub use dialect::Dialect;
pub use era::EraTable;
pub use instance::{FormJson, FormValidator};
pub use registry::{DialectLookup, Form, FormRegistry, Lookup, Processed, SchemaError};
pub use source::SchemaSource;
pub use validate::FormError;
