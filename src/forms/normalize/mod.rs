//! Normalization: bringing what a clerk types, or what a vendor's legacy format holds, to the
//! standard form (DESIGN §5). Each rule works on one field; [`document`] applies them to a
//! whole form along the plan its schema declares (`x-normalize`). Names are never touched.

pub mod address;
pub mod codes;
pub mod date;
pub mod document;
pub mod kana;
pub mod width;

use serde_json::Value;

use crate::forms::era::EraTable;
use crate::i18n::Text;

pub use document::{Change, Located, Report};

/// The kinds of field a schema can ask to normalize with `"x-normalize": "<kind>"`, and that
/// `POST /v1/normalize/{kind}` accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// An exact day: 和暦 or 西暦 → `YYYY-MM-DD`.
    Date,
    /// A date of the resident registry: exact, or approximate / unknown (kept as an object).
    RegistryDate,
    Kana,
    PostalCode,
    Phone,
    CityBlock,
    LgCode,
    MyNumber,
    /// A digit string (account, insurance or pension number).
    Digits,
    /// A residence card number: two letters, eight digits, two letters.
    ResidenceCardNumber,
}

impl Kind {
    pub const ALL: [Kind; 10] = [
        Kind::Date,
        Kind::RegistryDate,
        Kind::Kana,
        Kind::PostalCode,
        Kind::Phone,
        Kind::CityBlock,
        Kind::LgCode,
        Kind::MyNumber,
        Kind::Digits,
        Kind::ResidenceCardNumber,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Date => "date",
            Kind::RegistryDate => "registryDate",
            Kind::Kana => "kana",
            Kind::PostalCode => "postalCode",
            Kind::Phone => "phone",
            Kind::CityBlock => "cityBlock",
            Kind::LgCode => "lgCode",
            Kind::MyNumber => "myNumber",
            Kind::Digits => "digits",
            Kind::ResidenceCardNumber => "residenceCardNumber",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Whether the value is personal data that must not appear in change reports.
    pub fn is_secret(self) -> bool {
        self == Kind::MyNumber
    }
}

/// A warning or an error about one value, with the value that would be right where there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    pub code: &'static str,
    pub message: Text,
    pub suggestion: Option<String>,
}

impl Issue {
    pub fn new(code: &'static str, message: Text) -> Self {
        Self {
            code,
            message,
            suggestion: None,
        }
    }

    pub fn with_suggestion(mut self, suggestion: Option<String>) -> Self {
        self.suggestion = suggestion;
        self
    }
}

/// A normalized value, the rule that produced it and any warnings.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldOutcome {
    pub value: Value,
    pub rule: &'static str,
    pub warnings: Vec<Issue>,
}

impl FieldOutcome {
    pub fn string(value: String, rule: &'static str) -> Self {
        Self {
            value: Value::String(value),
            rule,
            warnings: Vec::new(),
        }
    }
}

/// Normalizes one value as typed. Values that are not strings are left to the schema.
pub fn field(kind: Kind, value: &str, eras: &EraTable) -> Result<FieldOutcome, Issue> {
    match kind {
        Kind::Date => date::normalize(eras, value, false),
        Kind::RegistryDate => date::normalize(eras, value, true),
        Kind::Kana => kana::normalize(value),
        Kind::PostalCode => codes::postal_code(value),
        Kind::Phone => codes::phone(value),
        Kind::CityBlock => address::city_block(value),
        Kind::LgCode => codes::lg_code(value),
        Kind::MyNumber => codes::my_number(value),
        Kind::Digits => codes::digits(value),
        Kind::ResidenceCardNumber => codes::residence_card_number(value),
    }
}
