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
            | '\u{00AD}'                // soft hyphen (shown nowhere, compared everywhere)
            | '\u{115F}' | '\u{1160}' | '\u{3164}' | '\u{FFA0}' // Hangul fillers (blank)
            | '\u{180E}'                // Mongolian vowel separator (formerly a space)
            | '\u{E0000}'..='\u{E007F}' // tag characters
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

    /// A required one-line text: 1..=max characters, no space at either end, no control,
    /// line-breaking, bidirectional or zero-width character. Exactly what
    /// [`text_pattern`] says in the OpenAPI document.
    pub fn text(&mut self, pointer: &str, label: &Text, value: &str, max: usize) -> String {
        if value.is_empty() {
            self.push(FieldError::new(
                pointer,
                "required",
                Text::new(
                    format!("{}を入力してください。", label.ja),
                    format!("{} must not be empty.", label.en),
                ),
            ));
        } else if value.chars().count() > max {
            self.push(FieldError::new(
                pointer,
                "too_long",
                Text::new(
                    format!("{}は{max}文字以内で入力してください。", label.ja),
                    format!("{} must be at most {max} characters.", label.en),
                ),
            ));
        } else if value.chars().any(is_hidden_or_control) {
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
        } else if value.starts_with(char::is_whitespace) || value.ends_with(char::is_whitespace) {
            self.push(FieldError::new(
                pointer,
                "surrounding_space",
                Text::new(
                    format!("{}の前後の空白を取り除いてください。", label.ja),
                    format!("{} must not begin or end with a space.", label.en),
                ),
            ));
        }
        value.to_owned()
    }
}

/// The characters of [`is_hidden_or_control`], as the inside of a regular-expression class.
/// Tag characters (U+E0000–E007F) are refused by the server but not named here: outside the
/// BMP, an ECMA-262 pattern without the `u` flag cannot name them.
pub const HIDDEN_CLASS: &str = r"\u0000-\u001F\u007F-\u009F\u00AD\u061C\u115F\u1160\u180E\u200B-\u200F\u2028\u2029\u202A-\u202E\u2060-\u2064\u2066-\u2069\u3164\uFEFF\uFFA0";

/// The pattern (ECMA-262, as JSON Schema reads it) of what [`FieldErrors::text`] accepts with
/// this `max`.
pub fn text_pattern(max: usize) -> String {
    let h = HIDDEN_CLASS;
    format!(
        r"^[^{h}\s](?:[^{h}]{{0,{}}}[^{h}\s])?$",
        max.saturating_sub(2)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_characters_are_found_but_variation_selectors_are_not() {
        for c in [
            '\n',
            '\u{202E}',
            '\u{2066}',
            '\u{200B}',
            '\u{200D}',
            '\u{2028}',
            '\u{FEFF}',
            '\u{00AD}',
            '\u{115F}',
            '\u{1160}',
            '\u{3164}',
            '\u{FFA0}',
            '\u{E0001}',
            '\u{E0041}',
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

    /// The OpenAPI pattern and the server's check agree, value by value.
    #[test]
    fn the_text_pattern_says_what_text_accepts() {
        // Read the pattern as a JSON Schema validator reads it (ECMA-262 escapes).
        let schema = serde_json::json!({ "type": "string", "pattern": text_pattern(8) });
        let validator = jsonschema::options()
            .with_pattern_options(jsonschema::PatternOptions::regex())
            .build(&schema)
            .unwrap();
        for value in [
            "北見市",
            "a",
            "ab",
            "a b",
            "12345678",
            "123456789",
            "",
            " ",
            " a",
            "a ",
            "a\u{3000}",
            "\u{3000}a",
            "a\u{3000}b",
            "a\u{202E}b",
            "a\nb",
            "\u{FEFF}a",
            "a\u{200B}",
            "山\u{00AD}田",
            "\u{3164}",
            "a\u{FFA0}b",
            "葛\u{E0100}飾",
            "\u{2028}",
            "a\u{0085}",
        ] {
            let mut errors = FieldErrors::default();
            errors.text("/x", &Text::new("x", "x"), value, 8);
            assert_eq!(
                validator.is_valid(&serde_json::json!(value)),
                errors.is_empty(),
                "{value:?}: pattern and check disagree"
            );
        }
    }
}
