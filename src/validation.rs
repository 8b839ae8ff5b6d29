//! Problems found in input, each tied to the field it concerns by a JSON pointer.

use std::borrow::Cow;

use crate::i18n::Text;

/// Appends one reference token to a JSON pointer (RFC 6901: `~` → `~0`, `/` → `~1`).
pub fn push_pointer_token(pointer: &mut String, token: &str) {
    pointer.push('/');
    if token.contains(['~', '/']) {
        pointer.push_str(&token.replace('~', "~0").replace('/', "~1"));
    } else {
        pointer.push_str(token);
    }
}

/// One reference token of a JSON pointer, unescaped.
pub fn unescape_pointer_token(token: &str) -> Cow<'_, str> {
    if token.contains('~') {
        Cow::Owned(token.replace("~1", "/").replace("~0", "~"))
    } else {
        Cow::Borrowed(token)
    }
}

/// One thing wrong with one field. `code` is stable (snake_case) for programs; `message` is
/// for people and names the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub pointer: String,
    pub code: &'static str,
    pub message: Text,
}

impl FieldError {
    pub fn new(pointer: impl Into<String>, code: &'static str, message: Text) -> Self {
        Self {
            pointer: pointer.into(),
            code,
            message,
        }
    }
}

/// Collects every problem of a request so the caller sees them all at once.
#[derive(Debug, Default)]
pub struct FieldErrors(Vec<FieldError>);

impl FieldErrors {
    pub fn push(&mut self, error: FieldError) {
        self.0.push(error);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn into_result(self) -> Result<(), Vec<FieldError>> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(self.0)
        }
    }

    /// A required free-text field: trimmed, 1..=max characters, no control characters.
    pub fn text(&mut self, pointer: &str, label: &Text, value: &str, max: usize) -> String {
        let trimmed = value.trim();
        if trimmed.is_empty() {
            self.push(FieldError::new(
                pointer,
                "required",
                Text::new(
                    format!("{}を入力してください。", label.ja),
                    format!("{} must not be empty.", label.en),
                ),
            ));
        } else if trimmed.chars().count() > max {
            self.push(FieldError::new(
                pointer,
                "too_long",
                Text::new(
                    format!("{}は{max}文字以内で入力してください。", label.ja),
                    format!("{} must be at most {max} characters.", label.en),
                ),
            ));
        } else if trimmed.chars().any(char::is_control) {
            self.push(FieldError::new(
                pointer,
                "control_character",
                Text::new(
                    format!("{}に制御文字が含まれています。", label.ja),
                    format!("{} contains a control character.", label.en),
                ),
            ));
        }
        trimmed.to_owned()
    }
}
