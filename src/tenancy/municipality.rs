//! A municipality that uses the gateway, and the rules for changing one.

use chrono::{DateTime, Utc};

use super::LgCode;
use crate::i18n::Text;
use crate::validation::{FieldError, FieldErrors, is_hidden_or_control};

/// Where residents and vendors reach the municipality's one-stop counter; printed on
/// receipts later.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Contact {
    pub department: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Municipality {
    pub lg_code: LgCode,
    pub name: String,
    pub name_kana: Option<String>,
    pub contact: Contact,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A municipality to register, already checked.
#[derive(Debug, Clone)]
pub struct NewMunicipality {
    pub lg_code: LgCode,
    pub name: String,
    pub name_kana: Option<String>,
}

/// A change to a municipality: `None` leaves a field as it is, `Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct MunicipalityPatch {
    pub name: Option<String>,
    pub name_kana: Option<Option<String>>,
    pub department: Option<Option<String>>,
    pub phone: Option<Option<String>>,
    pub email: Option<Option<String>>,
}

#[derive(Debug, thiserror::Error)]
pub enum MunicipalityError {
    #[error("municipality {0} is not registered")]
    NotFound(LgCode),
    #[error("municipality {0} is already registered")]
    AlreadyExists(LgCode),
    #[error("invalid municipality data")]
    Invalid(Vec<FieldError>),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

fn label_name() -> Text {
    Text::new("団体名", "name")
}

fn label_kana() -> Text {
    Text::new("団体名カナ", "nameKana")
}

/// Full-width katakana with the prolonged sound mark and full-width spaces. Hiragana and
/// half-width forms are converted by the normalizer (forms issue), not here.
fn is_katakana(s: &str) -> bool {
    s.chars()
        .all(|c| matches!(c, '\u{30A1}'..='\u{30FA}' | 'ー' | '・' | '\u{3000}'))
}

fn check_kana(errors: &mut FieldErrors, pointer: &str, value: &str) -> String {
    let kana = errors.text(pointer, &label_kana(), value, 64);
    if !kana.is_empty() && !is_katakana(&kana) {
        errors.push(FieldError::new(
            pointer,
            "not_katakana",
            Text::new(
                "団体名カナは全角カタカナで入力してください。",
                "nameKana must be full-width katakana.",
            ),
        ));
    }
    kana
}

fn check_phone(errors: &mut FieldErrors, value: &str) -> String {
    let phone = value.to_owned();
    let digits = phone.chars().filter(char::is_ascii_digit).count();
    if !phone.chars().all(|c| c.is_ascii_digit() || c == '-') || !(10..=11).contains(&digits) {
        errors.push(FieldError::new(
            "/contact/phone",
            "invalid_phone",
            Text::new(
                "電話番号は半角数字とハイフンで、市外局番から10〜11桁で入力してください(例: 0157-23-7111)。",
                "contact.phone must be 10 to 11 half-width digits with optional hyphens (e.g. 0157-23-7111).",
            ),
        ));
    }
    phone
}

/// `local@domain`: no spaces, no second `@`, no hidden characters, a domain that does not
/// start with a dot and has a dot with something after it (the OpenAPI document's pattern
/// says the same).
fn check_email(errors: &mut FieldErrors, value: &str) -> String {
    let email = value.to_owned();
    let plain = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| !c.is_whitespace() && c != '@' && !is_hidden_or_control(c))
    };
    let valid = email.chars().count() <= 254
        && email.split_once('@').is_some_and(|(local, domain)| {
            plain(local)
                && plain(domain)
                && !domain.starts_with('.')
                && domain
                    .char_indices()
                    .skip(1)
                    .any(|(i, c)| c == '.' && i + 1 < domain.len())
        });
    if !valid {
        errors.push(FieldError::new(
            "/contact/email",
            "invalid_email",
            Text::new(
                "メールアドレスの形式が正しくありません(例: madoguchi@city.example.lg.jp)。",
                "contact.email is not an e-mail address (e.g. madoguchi@city.example.lg.jp).",
            ),
        ));
    }
    email
}

impl NewMunicipality {
    /// Checks a registration; every problem (code, name, kana) is reported at once.
    pub fn parse(
        lg_code: &str,
        name: &str,
        name_kana: Option<&str>,
    ) -> Result<Self, MunicipalityError> {
        let mut errors = FieldErrors::default();
        let code = LgCode::parse(lg_code);
        if let Err(e) = &code {
            errors.push(FieldError::new("/lgCode", "invalid_lg_code", e.text()));
        }
        let name = errors.text("/name", &label_name(), name, 64);
        let name_kana = name_kana
            .filter(|k| !k.is_empty())
            .map(|k| check_kana(&mut errors, "/nameKana", k));
        errors.into_result().map_err(MunicipalityError::Invalid)?;
        let lg_code = code.map_err(|e| {
            MunicipalityError::Invalid(vec![FieldError::new(
                "/lgCode",
                "invalid_lg_code",
                e.text(),
            )])
        })?;
        Ok(Self {
            lg_code,
            name,
            name_kana,
        })
    }
}

impl MunicipalityPatch {
    /// Checks every field at once; an empty string clears an optional field.
    pub fn checked(self) -> Result<Self, MunicipalityError> {
        let mut errors = FieldErrors::default();
        let blank_to_none = |v: Option<String>| v.filter(|s| !s.is_empty());
        let name = self
            .name
            .map(|n| errors.text("/name", &label_name(), &n, 64));
        let name_kana = self
            .name_kana
            .map(|k| blank_to_none(k).map(|k| check_kana(&mut errors, "/nameKana", &k)));
        let department = self.department.map(|d| {
            blank_to_none(d).map(|d| {
                errors.text(
                    "/contact/department",
                    &Text::new("担当課", "contact.department"),
                    &d,
                    64,
                )
            })
        });
        let phone = self
            .phone
            .map(|p| blank_to_none(p).map(|p| check_phone(&mut errors, &p)));
        let email = self
            .email
            .map(|e| blank_to_none(e).map(|e| check_email(&mut errors, &e)));
        errors.into_result().map_err(MunicipalityError::Invalid)?;
        Ok(Self {
            name,
            name_kana,
            department,
            phone,
            email,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.name.is_none()
            && self.name_kana.is_none()
            && self.department.is_none()
            && self.phone.is_none()
            && self.email.is_none()
    }

    /// Applies the change to a municipality.
    pub fn apply(&self, m: &mut Municipality) {
        if let Some(name) = &self.name {
            m.name.clone_from(name);
        }
        if let Some(kana) = &self.name_kana {
            m.name_kana.clone_from(kana);
        }
        if let Some(v) = &self.department {
            m.contact.department.clone_from(v);
        }
        if let Some(v) = &self.phone {
            m.contact.phone.clone_from(v);
        }
        if let Some(v) = &self.email {
            m.contact.email.clone_from(v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_of_a_patch_is_reported_at_once() {
        let patch = MunicipalityPatch {
            name: Some("  ".into()),
            name_kana: Some(Some("きたみし".into())),
            phone: Some(Some("0157-23".into())),
            email: Some(Some("not-an-address".into())),
            ..Default::default()
        };
        let MunicipalityError::Invalid(errors) = patch.checked().unwrap_err() else {
            panic!("expected invalid");
        };
        let pointers: Vec<_> = errors.iter().map(|e| e.pointer.as_str()).collect();
        assert_eq!(
            pointers,
            ["/name", "/nameKana", "/contact/phone", "/contact/email"]
        );
    }

    #[test]
    fn a_valid_patch_clears_with_an_empty_string_and_keeps_spaces_out() {
        let spaced = MunicipalityPatch {
            name: Some(" 北見市 ".into()),
            ..Default::default()
        };
        let MunicipalityError::Invalid(errors) = spaced.checked().unwrap_err() else {
            panic!("expected invalid");
        };
        assert_eq!(errors[0].code, "surrounding_space");
        let patch = MunicipalityPatch {
            name: Some("北見市".into()),
            name_kana: Some(Some("キタミシ".into())),
            department: Some(Some(String::new())),
            phone: Some(Some("0157-23-7111".into())),
            email: Some(None),
        }
        .checked()
        .unwrap();
        assert_eq!(patch.name.as_deref(), Some("北見市"));
        assert_eq!(patch.department, Some(None));
    }
}
