//! The key this gateway signs access tokens with (ECDSA P-256, ES256) and its public JWK.

use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use jsonwebtoken::jwk::{Jwk, PublicKeyUse, ThumbprintHash};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};

use crate::secrets::{self, Purpose, ServerKey};

pub const SIGNING_ALGORITHM: Algorithm = Algorithm::ES256;

/// Starts a stored signing key sealed with the server key. A key stored in clear is PKCS#8
/// DER, which starts with 0x30, so the two never mix up.
const SEALED_PREFIX: &[u8] = b"MDGK1";

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("could not generate a signing key")]
    Generate,
    #[error("the signing key is not a PKCS#8 ECDSA P-256 key: {0}")]
    Unreadable(String),
    #[error(
        "the stored signing key is encrypted with a server key, and none is configured: set secrets.key_path to the key file it was encrypted with"
    )]
    ServerKeyMissing,
    #[error(
        "the stored signing key cannot be decrypted with the server key {0}: it was encrypted with another key (restore that key file)"
    )]
    WrongServerKey(String),
}

/// A signing key as the database keeps it: sealed with the server key when there is one,
/// bound to its key id so that sealed keys cannot be swapped between rows.
pub fn seal_for_storage(
    der: &[u8],
    kid: &str,
    server_key: Option<&ServerKey>,
) -> Result<Vec<u8>, KeyError> {
    let Some(server_key) = server_key else {
        return Ok(der.to_vec());
    };
    let sealed = secrets::seal(
        &server_key.subkey(Purpose::SigningKeyWrap),
        kid.as_bytes(),
        der,
    )
    .map_err(|_| KeyError::Generate)?;
    Ok([SEALED_PREFIX, sealed.as_slice()].concat())
}

/// The PKCS#8 DER of a stored key, and whether it was stored in clear.
pub fn open_stored(
    stored: &[u8],
    kid: &str,
    server_key: Option<&ServerKey>,
) -> Result<(Vec<u8>, bool), KeyError> {
    let Some(sealed) = stored.strip_prefix(SEALED_PREFIX) else {
        return Ok((stored.to_vec(), true));
    };
    let server_key = server_key.ok_or(KeyError::ServerKeyMissing)?;
    let der = secrets::open(
        &server_key.subkey(Purpose::SigningKeyWrap),
        kid.as_bytes(),
        sealed,
    )
    .map_err(|_| KeyError::WrongServerKey(server_key.source.display().to_string()))?;
    Ok((der, false))
}

/// A private signing key with everything derived from it.
#[derive(Clone)]
pub struct SigningKey {
    /// RFC 7638 thumbprint of the public key.
    pub kid: String,
    pub encoding: EncodingKey,
    pub decoding: DecodingKey,
    /// The public key as published in `/.well-known/jwks.json`.
    pub jwk: Jwk,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish()
    }
}

impl SigningKey {
    /// A fresh key; returns it with its PKCS#8 DER encoding for storage.
    pub fn generate() -> Result<(Self, Vec<u8>), KeyError> {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let document = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map_err(|_| KeyError::Generate)?;
        let der = document.as_ref().to_vec();
        Ok((Self::from_pkcs8_der(&der)?, der))
    }

    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, KeyError> {
        // Parse once with aws-lc-rs so that a corrupt key fails here, not at the first token.
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der)
            .map_err(|e| KeyError::Unreadable(e.to_string()))?;
        Self::from_encoding_key(EncodingKey::from_ec_der(der))
    }

    /// Reads a PEM file holding a PKCS#8 P-256 private key (`openssl genpkey -algorithm EC
    /// -pkeyopt ec_paramgen_curve:P-256`).
    pub fn from_pem(pem: &[u8]) -> Result<Self, KeyError> {
        let encoding =
            EncodingKey::from_ec_pem(pem).map_err(|e| KeyError::Unreadable(e.to_string()))?;
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, encoding.as_bytes())
            .map_err(|e| KeyError::Unreadable(e.to_string()))?;
        Self::from_encoding_key(encoding)
    }

    fn from_encoding_key(encoding: EncodingKey) -> Result<Self, KeyError> {
        let unreadable = |e: jsonwebtoken::errors::Error| KeyError::Unreadable(e.to_string());
        let mut jwk = Jwk::from_encoding_key(&encoding, SIGNING_ALGORITHM).map_err(unreadable)?;
        let kid = jwk.thumbprint(ThumbprintHash::SHA256).map_err(unreadable)?;
        jwk.common.key_id = Some(kid.clone());
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        let decoding = DecodingKey::from_jwk(&jwk).map_err(unreadable)?;
        Ok(Self {
            kid,
            encoding,
            decoding,
            jwk,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_key_reloads_with_the_same_kid() {
        let (key, der) = SigningKey::generate().unwrap();
        let again = SigningKey::from_pkcs8_der(&der).unwrap();
        assert_eq!(key.kid, again.kid);
        assert_eq!(key.kid.len(), 43);
        let json = serde_json::to_value(&key.jwk).unwrap();
        assert_eq!(json["kty"], "EC");
        assert_eq!(json["crv"], "P-256");
        assert_eq!(json["alg"], "ES256");
        assert_eq!(json["use"], "sig");
        assert!(
            json.get("d").is_none(),
            "the private part must never be published"
        );
    }

    #[test]
    fn a_stored_key_is_sealed_only_when_a_server_key_is_given() {
        let (key, der) = SigningKey::generate().unwrap();
        let clear = seal_for_storage(&der, &key.kid, None).unwrap();
        assert_eq!(clear, der);
        assert_eq!(
            open_stored(&clear, &key.kid, None).unwrap(),
            (der.clone(), true)
        );

        let server = ServerKey::from_bytes([9; 32]);
        let sealed = seal_for_storage(&der, &key.kid, Some(&server)).unwrap();
        assert!(sealed.starts_with(SEALED_PREFIX));
        assert!(!sealed.windows(der.len()).any(|w| w == der.as_slice()));
        assert_eq!(
            open_stored(&sealed, &key.kid, Some(&server)).unwrap(),
            (der, false)
        );
        assert!(matches!(
            open_stored(&sealed, &key.kid, None),
            Err(KeyError::ServerKeyMissing)
        ));
        let other = ServerKey::from_bytes([8; 32]);
        assert!(matches!(
            open_stored(&sealed, &key.kid, Some(&other)),
            Err(KeyError::WrongServerKey(_))
        ));
        assert!(open_stored(&sealed, "another-kid", Some(&server)).is_err());
    }

    #[test]
    fn garbage_is_refused() {
        assert!(SigningKey::from_pkcs8_der(b"not a key").is_err());
        assert!(
            SigningKey::from_pem(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
                .is_err()
        );
    }
}
