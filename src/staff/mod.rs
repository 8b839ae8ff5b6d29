//! Staff of a municipality who use the counter console: clerks, supervisors and
//! administrators ([`Role`]), their accounts ([`StaffAccount`]), how a password is kept and
//! checked ([`password`]), and the use cases that create accounts and log staff in
//! ([`service`]). Free of HTTP and SQL: the console, the API and the CLI call it.

pub mod password;
pub mod service;
pub mod session;
pub mod sso;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::i18n::Text;
use crate::tenancy::LgCode;
use crate::validation::{FieldError, FieldErrors};

/// What a member of staff may do in the console. Each role includes the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Serves residents: visits, identification, drafts, submission.
    Clerk,
    /// And edits the municipality's catalogue overrides, voids and approves.
    Supervisor,
    /// And manages the municipality's staff accounts.
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Clerk, Role::Supervisor, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Clerk => "clerk",
            Role::Supervisor => "supervisor",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    pub fn label(self) -> Text {
        match self {
            Role::Clerk => Text::new("窓口職員", "clerk"),
            Role::Supervisor => Text::new("監督者", "supervisor"),
            Role::Admin => Text::new("管理者", "administrator"),
        }
    }
}

/// A member of staff of one municipality.
#[derive(Debug, Clone)]
pub struct StaffAccount {
    pub id: Uuid,
    pub lg_code: LgCode,
    /// What they log in with, unique in the municipality (lower-case ASCII).
    pub login: String,
    /// Their name as colleagues read it.
    pub name: String,
    pub role: Role,
    /// The argon2id PHC string; none for an account that logs in only through the
    /// municipality's identity provider.
    pub password_hash: Option<String>,
    /// The identity provider's `sub` for single sign-on, once linked.
    pub subject: Option<String>,
    pub created_at: DateTime<Utc>,
    pub disabled_at: Option<DateTime<Utc>>,
}

impl StaffAccount {
    /// The staff id the audit log names: `login@lgCode`.
    pub fn staff_id(&self) -> String {
        format!("{}@{}", self.login, self.lg_code)
    }

    pub fn active(&self) -> bool {
        self.disabled_at.is_none()
    }
}

/// Shortest and longest password accepted. No rule on character classes (NIST SP 800-63B
/// §3.1.1.2: length, not composition); paste and password managers work.
pub const PASSWORD_MIN: usize = 10;
pub const PASSWORD_MAX: usize = 128;
pub const LOGIN_MAX: usize = 32;

/// A login: 1–32 of `a-z 0-9 . _ -`, starting with a letter or digit.
pub fn check_login(errors: &mut FieldErrors, pointer: &str, login: &str) {
    let ok = !login.is_empty()
        && login.len() <= LOGIN_MAX
        && login
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'))
        && login
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric());
    if !ok {
        errors.push(FieldError::new(
            pointer,
            "invalid_login",
            Text::new(
                format!(
                    "ログイン名は半角英小文字・数字・「._-」で{LOGIN_MAX}文字以内、先頭は英数字にしてください。"
                ),
                format!(
                    "A login is 1 to {LOGIN_MAX} of a-z, 0-9 and . _ -, starting with a letter or digit."
                ),
            ),
        ));
    }
}

/// A new password: long enough, not too long for the hash's time to stay bounded.
pub fn check_password(errors: &mut FieldErrors, pointer: &str, password: &str) {
    let n = password.chars().count();
    if !(PASSWORD_MIN..=PASSWORD_MAX).contains(&n) {
        errors.push(FieldError::new(
            pointer,
            "invalid_password",
            Text::new(
                format!("パスワードは{PASSWORD_MIN}〜{PASSWORD_MAX}文字にしてください。"),
                format!("A password has {PASSWORD_MIN} to {PASSWORD_MAX} characters."),
            ),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logins_are_short_lower_case_ascii() {
        for ok in ["sato", "k.tanaka", "clerk-01", "9ban"] {
            let mut e = FieldErrors::default();
            check_login(&mut e, "/login", ok);
            assert!(e.is_empty(), "{ok}");
        }
        for bad in ["", "Sato", "佐藤", "-x", "a b", &"a".repeat(33)] {
            let mut e = FieldErrors::default();
            check_login(&mut e, "/login", bad);
            assert!(!e.is_empty(), "{bad}");
        }
    }

    #[test]
    fn passwords_are_counted_in_characters() {
        let mut e = FieldErrors::default();
        check_password(&mut e, "/password", "まどぐちのぱすわーど");
        assert!(e.is_empty());
        let mut e = FieldErrors::default();
        check_password(&mut e, "/password", "short");
        assert!(!e.is_empty());
    }

    #[test]
    fn roles_read_back() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        assert!(Role::Admin > Role::Clerk);
        assert_eq!(Role::parse("root"), None);
    }
}
