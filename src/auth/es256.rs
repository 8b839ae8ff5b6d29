//! One encoding per ES256 signature. An ECDSA signature `(r, s)` verifies as well as
//! `(r, n − s)`: left alone, anyone holding a token can make a second, different token string
//! that verifies (a cache keyed by the token, a log or a replay check that compares strings
//! would count it as new). As Bitcoin (BIP 62/146) and Ethereum do, only the low `s`
//! (`s ≤ n/2`) is accepted, and the tokens this gateway signs are brought to it.
//!
//! By hand over 32-byte big-endian arrays: jsonwebtoken does not normalize, and the two
//! operations (a comparison and one subtraction from the group order) are a few lines.

use base64::Engine;

/// The order `n` of P-256, big-endian.
const ORDER: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
];

/// `n / 2`, rounded down.
const HALF_ORDER: [u8; 32] = [
    0x7f, 0xff, 0xff, 0xff, 0x80, 0x00, 0x00, 0x00, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xde, 0x73, 0x7d, 0x56, 0xd3, 0x8b, 0xcf, 0x42, 0x79, 0xdc, 0xe5, 0x61, 0x7e, 0x31, 0x92, 0xa8,
];

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

fn signature(token: &str) -> Option<(&str, Vec<u8>)> {
    let (signed, sig) = token.rsplit_once('.')?;
    let bytes = B64.decode(sig).ok()?;
    (bytes.len() == 64).then_some((signed, bytes))
}

/// Whether an ES256 JWT's signature (`r ‖ s`, 64 bytes) has the low `s`.
pub fn has_low_s(token: &str) -> bool {
    signature(token).is_some_and(|(_, sig)| sig[32..] <= HALF_ORDER[..])
}

/// `n − s`, for `0 < s < n`.
fn mirror(s: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut borrow = 0u16;
    for i in (0..32).rev() {
        let (a, b) = (u16::from(ORDER[i]), u16::from(s[i]) + borrow);
        if a >= b {
            out[i] = (a - b) as u8;
            borrow = 0;
        } else {
            out[i] = (a + 256 - b) as u8;
            borrow = 1;
        }
    }
    out
}

/// The same token with the low `s` of its signature (unchanged when it has it already, or
/// when it is not an ES256 signature).
pub fn with_low_s(token: &str) -> String {
    match signature(token) {
        Some((signed, mut sig)) if sig[32..] > HALF_ORDER[..] => {
            let low = mirror(&sig[32..]);
            sig[32..].copy_from_slice(&low);
            format!("{signed}.{}", B64.encode(sig))
        }
        _ => token.to_owned(),
    }
}

/// The same token with `s` replaced by `n − s`: another string that a plain ES256 verifier
/// also accepts (the conformance kit sends it to see that the gateway does not).
pub fn mirrored(token: &str) -> Option<String> {
    let (signed, mut sig) = signature(token)?;
    let flipped = mirror(&sig[32..]);
    sig[32..].copy_from_slice(&flipped);
    Some(format!("{signed}.{}", B64.encode(sig)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn high_of(token: &str) -> String {
        mirrored(token).expect("es256")
    }

    #[test]
    fn the_mirror_of_a_signature_verifies_too_and_only_the_low_one_is_taken() {
        let (key, _) = crate::auth::SigningKey::generate().expect("key");
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        let claims = serde_json::json!({"sub": "x"});
        let mut seen_high = false;
        for _ in 0..16 {
            let header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
            let token = jsonwebtoken::encode(&header, &claims, &key.encoding).expect("signed");
            let low = with_low_s(&token);
            let high = high_of(&low);
            seen_high |= low != token;
            // Both encodings verify with the plain library: the malleability is real.
            for t in [&low, &high] {
                jsonwebtoken::decode::<serde_json::Value>(t, &key.decoding, &validation)
                    .expect("verifies");
            }
            assert!(has_low_s(&low));
            assert!(!has_low_s(&high));
            assert_eq!(with_low_s(&high), low);
        }
        // Sixteen signatures all low by chance: one in 65,536.
        assert!(
            seen_high,
            "the signer never gave a high s: nothing was normalized"
        );
    }
}
