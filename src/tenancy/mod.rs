//! Municipalities (tenants), keyed by the 全国地方公共団体コード.

mod directory;
mod lg_code;
mod municipality;
mod prefectures;
mod registry;

pub use directory::Directory;
pub use lg_code::{LG_CODE_PATTERN, LgCode, LgCodeError};
pub use municipality::{
    Contact, Municipality, MunicipalityError, MunicipalityPatch, NewMunicipality,
};
pub use prefectures::{Prefecture, prefecture, prefecture_names};
pub use registry::{register_municipality, update_municipality};
