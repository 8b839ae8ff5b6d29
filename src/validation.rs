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

/// Characters that change how text is shown without being seen, or that break it into lines:
/// control characters, bidirectional overrides and isolates (which make `abc` display as
/// `cba`), line and paragraph separators, and zero-width characters. None belongs in a name,
/// a staff id or any other one-line text an audit trail or a clerk's screen repeats.
/// Variation selectors (U+FE00–FE0F, U+E0100–E01EF) are not among them: names written with
/// Ideographic Variation Sequences need them.
pub fn is_hidden_or_control(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}'                  // Arabic letter mark
            | '\u{200B}'..='\u{200F}'    // zero-width space, non-joiner, joiner; LRM, RLM
            | '\u{2028}' | '\u{2029}'    // line and paragraph separators
            | '\u{202A}'..='\u{202E}'    // bidirectional embeddings and overrides
            | '\u{2060}'..='\u{2064}'    // word joiner and invisible operators
            | '\u{2066}'..='\u{2069}'    // bidirectional isolates
            | '\u{FEFF}'                // zero-width no-break space (BOM)
        )
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
        } else if trimmed.chars().any(is_hidden_or_control) {
            self.push(FieldError::new(
                pointer,
                "control_character",
                Text::new(
                    format!(
                        "{}に制御文字、改行、双方向制御文字またはゼロ幅文字が含まれています。",
                        label.ja
                    ),
                    format!(
                        "{} contains a control, line-breaking, bidirectional or zero-width character.",
                        label.en
                    ),
                ),
            ));
        }
        trimmed.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_characters_are_found_but_variation_selectors_are_not() {
        for c in [
            '\n', '\u{202E}', '\u{2066}', '\u{200B}', '\u{200D}', '\u{2028}', '\u{FEFF}',
        ] {
            assert!(is_hidden_or_control(c), "{c:?}");
        }
        for c in ['葛', '\u{E0100}', '\u{FE00}', '\u{F0000}', 'ア', '\u{3000}'] {
            assert!(!is_hidden_or_control(c), "{c:?}");
        }
        let mut errors = FieldErrors::default();
        errors.text("/name", &Text::new("名前", "name"), "北見\u{202E}市", 64);
        assert_eq!(errors.0[0].code, "control_character");
    }
}
