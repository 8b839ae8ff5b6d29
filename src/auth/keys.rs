//! The key this gateway signs access tokens with (ECDSA P-256, ES256) and its public JWK.

use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use jsonwebtoken::jwk::{Jwk, PublicKeyUse, ThumbprintHash};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};

pub const SIGNING_ALGORITHM: Algorithm = Algorithm::ES256;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("could not generate a signing key")]
    Generate,
    #[error("the signing key is not a PKCS#8 ECDSA P-256 key: {0}")]
    Unreadable(String),
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
    fn garbage_is_refused() {
        assert!(SigningKey::from_pkcs8_der(b"not a key").is_err());
        assert!(
            SigningKey::from_pem(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
                .is_err()
        );
    }
}
