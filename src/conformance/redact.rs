//! What may reach a report: an exchange is redacted when it is recorded, before anything is
//! written. Client secrets, tokens, cookies and 個人番号 never reach disk; what a reviewer needs
//! stays (the scheme and client id of Basic credentials, the claims of a bearer JWT and the
//! SHA-256 of the token, which is high-entropy). A 個人番号 is replaced, never hashed: twelve
//! digits are few enough to guess from a hash.

use base64::Engine;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::forms::normalize::codes::is_my_number;

const B64URL: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;
const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Names of JSON members and form fields whose value is a secret, compared without case and
/// without `_`/`-`.
const SECRET_NAMES: &[&str] = &[
    "clientsecret",
    "secret",
    "accesstoken",
    "refreshtoken",
    "idtoken",
    "token",
    "password",
    "assertion",
    "clientassertion",
    "privatekey",
    "signingsecret",
];

/// Private members of a JWK (RFC 7518 §6.2.2, §6.3.2).
const PRIVATE_JWK_MEMBERS: &[&str] = &["d", "p", "q", "dp", "dq", "qi", "k"];

fn is_secret_name(name: &str) -> bool {
    let folded: String = name
        .chars()
        .filter(|c| *c != '_' && *c != '-')
        .flat_map(char::to_lowercase)
        .collect();
    SECRET_NAMES.contains(&folded.as_str())
}

/// The SHA-256 of a token, for telling tokens apart in evidence.
pub fn token_digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))[..16].to_owned()
}

/// A header's value as it may be kept.
pub fn header(name: &str, value: &str) -> String {
    let lower = name.to_ascii_lowercase();
    match lower.as_str() {
        "authorization" | "proxy-authorization" => authorization(value),
        "cookie" | "set-cookie" => "[REDACTED:cookie]".to_owned(),
        "webhook-signature" | "madoguchi-signature" => "[REDACTED:signature]".to_owned(),
        _ => my_numbers(value),
    }
}

fn authorization(value: &str) -> String {
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    if scheme.eq_ignore_ascii_case("basic") {
        let client = B64
            .decode(rest.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| s.split_once(':').map(|(id, _)| id.to_owned()))
            .unwrap_or_default();
        format!(
            "Basic [REDACTED:credentials of client {}]",
            my_numbers(&client)
        )
    } else if scheme.eq_ignore_ascii_case("bearer") {
        format!("Bearer {}", token(rest.trim()))
    } else {
        format!("{scheme} [REDACTED:credentials]")
    }
}

/// A token as it may be kept: a JWT's header and claims (its signature dropped) with the
/// token's digest; anything else only its digest.
pub fn token(token: &str) -> String {
    let mut parts = token.split('.');
    let decoded = |p: Option<&str>| -> Option<Value> {
        serde_json::from_slice(&B64URL.decode(p?).ok()?).ok()
    };
    match (decoded(parts.next()), decoded(parts.next())) {
        (Some(header), Some(claims)) => format!(
            "[REDACTED:token sha256:{} header={} claims={}]",
            token_digest(token),
            json(&header),
            json(&claims)
        ),
        _ => format!("[REDACTED:token sha256:{}]", token_digest(token)),
    }
}

/// A JSON body as it may be kept.
pub fn json(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let is_jwk = map.contains_key("kty");
            Value::Object(
                map.iter()
                    .map(|(k, v)| {
                        let secret = is_secret_name(k)
                            || (is_jwk && PRIVATE_JWK_MEMBERS.contains(&k.as_str()));
                        let kept = match v {
                            Value::String(s) if secret && k.contains("oken") => {
                                Value::String(token(s))
                            }
                            Value::String(_) | Value::Number(_) if secret => {
                                Value::String(format!("[REDACTED:{k}]"))
                            }
                            other => json(other),
                        };
                        (k.clone(), kept)
                    })
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(json).collect()),
        Value::String(s) => Value::String(my_numbers(s)),
        Value::Number(n) => {
            let text = n.to_string();
            if is_my_number(&text) {
                Value::String("[REDACTED:my-number]".to_owned())
            } else {
                value.clone()
            }
        }
        other => other.clone(),
    }
}

/// An `application/x-www-form-urlencoded` body as it may be kept.
pub fn form(body: &str) -> String {
    body.split('&')
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            if is_secret_name(name) {
                format!("{name}=[REDACTED:{name}]")
            } else {
                format!("{name}={}", my_numbers(value))
            }
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// A URL as it may be kept: no user-info, secret query parameters replaced, 個人番号 replaced.
pub fn url(url: &str) -> String {
    let Ok(mut parsed) = reqwest::Url::parse(url) else {
        return my_numbers(url);
    };
    let _ = parsed.set_username("");
    let _ = parsed.set_password(None);
    if parsed.query().is_some() {
        let query = form(parsed.query().unwrap_or_default());
        parsed.set_query(Some(&query));
    }
    my_numbers(parsed.as_str())
}

/// Replaces every run of exactly twelve digits (ASCII or full-width, spaces or hyphens
/// between groups allowed) that is a 個人番号 (a valid check digit) by `[REDACTED:my-number]`.
pub fn my_numbers(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let digit = |c: char| -> Option<u8> {
        match c {
            '0'..='9' => Some(c as u8 - b'0'),
            '０'..='９' => Some((c as u32 - '０' as u32) as u8),
            _ => None,
        }
    };
    let separator = |c: char| matches!(c, ' ' | '-' | '　' | '－' | '‐');
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let preceded_by_digit = i > 0 && digit(chars[i - 1]).is_some();
        if digit(chars[i]).is_some() && !preceded_by_digit {
            // Read digits and single separators between them.
            let mut digits = Vec::new();
            let mut j = i;
            let mut end = i;
            while j < chars.len() {
                if let Some(d) = digit(chars[j]) {
                    digits.push(d + b'0');
                    j += 1;
                    end = j;
                } else if separator(chars[j])
                    && j + 1 < chars.len()
                    && digit(chars[j + 1]).is_some()
                    && digits.len() < 12
                {
                    j += 1;
                } else {
                    break;
                }
            }
            if std::str::from_utf8(&digits).is_ok_and(is_my_number) {
                out.push_str("[REDACTED:my-number]");
                i = end;
                continue;
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn my_numbers_are_replaced_in_any_writing_and_other_digits_are_kept() {
        // 123456789018 is the check-digit example the forms use; 123456789019 is not a 個人番号.
        assert_eq!(my_numbers("no 123456789018."), "no [REDACTED:my-number].");
        assert_eq!(
            my_numbers("１２３４ ５６７８ ９０１８"),
            "[REDACTED:my-number]"
        );
        assert_eq!(my_numbers("1234-5678-9018"), "[REDACTED:my-number]");
        assert_eq!(my_numbers("123456789019"), "123456789019");
        assert_eq!(my_numbers("1123456789018"), "1123456789018");
        assert_eq!(my_numbers("電話 0157-23-7111"), "電話 0157-23-7111");
    }

    #[test]
    fn secrets_and_tokens_leave_and_what_a_reviewer_needs_stays() {
        let claims = B64URL.encode(br#"{"sub":"client-1","scope":"forms"}"#);
        let header_part = B64URL.encode(br#"{"alg":"ES256","typ":"at+jwt"}"#);
        let jwt = format!("{header_part}.{claims}.c2lnbmF0dXJl");
        let body = json!({"access_token": jwt, "token_type": "Bearer", "clientSecret": "s3cret",
            "members": [{"myNumber": "123456789018"}], "jwk": {"kty": "EC", "d": "private", "x": "pub"}});
        let kept = json(&body).to_string();
        assert!(
            !kept.contains("s3cret") && !kept.contains("c2lnbmF0dXJl"),
            "{kept}"
        );
        assert!(
            !kept.contains("123456789018") && !kept.contains("private"),
            "{kept}"
        );
        assert!(
            kept.contains("client-1") && kept.contains("\"x\":\"pub\""),
            "{kept}"
        );
        let basic = format!("Basic {}", B64.encode("client-9:topsecret"));
        let kept = header("Authorization", &basic);
        assert_eq!(kept, "Basic [REDACTED:credentials of client client-9]");
        let kept = header("authorization", &format!("Bearer {jwt}"));
        assert!(kept.contains("\"scope\":\"forms\"") && !kept.contains("c2lnbmF0dXJl"));
        let kept = form("grant_type=client_credentials&client_id=c1&client_secret=abc");
        assert_eq!(
            kept,
            "grant_type=client_credentials&client_id=c1&client_secret=[REDACTED:client_secret]"
        );
        assert_eq!(
            url("https://user:pw@gw.example/v1?token=abc&limit=2"),
            "https://gw.example/v1?token=[REDACTED:token]&limit=2"
        );
    }
}
