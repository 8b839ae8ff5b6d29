//! Verifying bearer tokens: the gateway's own, and those of trusted external issuers whose
//! JWKS is fetched and cached.

use std::sync::Arc;
use std::time::{Duration, Instant};

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use moka::future::Cache;
use serde::Deserialize;
use serde_json::{Map, Value};
use tokio::sync::Mutex;

use super::keys::{SIGNING_ALGORITHM, SigningKey};
use super::scope::ScopeSet;
use super::token::{ACCESS_TOKEN_TYPE, AccessClaims, Principal};
use crate::config::ExternalIssuer;
use crate::tenancy::LgCode;

/// Clock skew tolerated on `exp`, `nbf` and `iat`.
const LEEWAY_SECONDS: u64 = 30;
/// A verified token is remembered this long at most (and never past its `exp`).
const VERIFIED_TOKEN_TTL: Duration = Duration::from_secs(60);
/// An unknown `kid` makes us fetch an issuer's JWKS again, but not more often than this.
const JWKS_REFETCH_INTERVAL: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, thiserror::Error)]
pub enum TokenError {
    #[error("the token is not a well-formed JWT")]
    Malformed,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token signature does not verify")]
    BadSignature,
    #[error("the token was not issued by a trusted issuer")]
    UntrustedIssuer,
    #[error("the token is not meant for this gateway (aud)")]
    WrongAudience,
    #[error("the token is not an access token (typ must be at+jwt)")]
    WrongType,
    #[error("the key that signed the token is not known")]
    UnknownKey,
    #[error("the token lacks the claim {0}")]
    MissingClaim(String),
    #[error("the keys of the token's issuer cannot be fetched right now")]
    KeysUnavailable,
}

impl TokenError {
    fn from_jwt(e: &jsonwebtoken::errors::Error) -> Self {
        match e.kind() {
            ErrorKind::ExpiredSignature => Self::Expired,
            ErrorKind::ImmatureSignature => Self::NotYetValid,
            ErrorKind::InvalidSignature => Self::BadSignature,
            ErrorKind::InvalidAudience => Self::WrongAudience,
            ErrorKind::InvalidIssuer => Self::UntrustedIssuer,
            ErrorKind::MissingRequiredClaim(c) => Self::MissingClaim(c.clone()),
            _ => Self::Malformed,
        }
    }
}

#[derive(Deserialize)]
struct Routing {
    iss: Option<String>,
}

/// One trusted external issuer and its cached keys.
struct External {
    config: ExternalIssuer,
    audience: String,
    last_refetch: Mutex<Option<Instant>>,
}

pub struct TokenVerifier {
    issuer: String,
    audience: String,
    keys: Vec<SigningKey>,
    externals: Vec<External>,
    http: reqwest::Client,
    jwks: Cache<String, Arc<JwkSet>>,
    verified: Cache<String, Arc<Principal>>,
}

impl TokenVerifier {
    pub fn new(
        issuer: String,
        audience: String,
        keys: Vec<SigningKey>,
        externals: &[ExternalIssuer],
        jwks_cache: Duration,
    ) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .user_agent(concat!("madoguchi/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            externals: externals
                .iter()
                .map(|c| External {
                    audience: c.audience.clone().unwrap_or_else(|| audience.clone()),
                    config: c.clone(),
                    last_refetch: Mutex::new(None),
                })
                .collect(),
            issuer,
            audience,
            keys,
            http,
            jwks: Cache::builder()
                .max_capacity(64)
                .time_to_live(jwks_cache)
                .build(),
            verified: Cache::builder()
                .max_capacity(10_000)
                .time_to_live(VERIFIED_TOKEN_TTL)
                .build(),
        })
    }

    /// The principal a bearer token stands for.
    pub async fn verify(&self, token: &str) -> Result<Arc<Principal>, TokenError> {
        if let Some(principal) = self.verified.get(token).await {
            if principal.is_expired() {
                self.verified.invalidate(token).await;
                return Err(TokenError::Expired);
            }
            return Ok(principal);
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Malformed)?;
        let routing: Routing = jsonwebtoken::dangerous::insecure_decode_claims(token)
            .map_err(|_| TokenError::Malformed)?;
        let issuer = routing.iss.ok_or(TokenError::MissingClaim("iss".into()))?;
        let principal = if issuer == self.issuer {
            // This gateway signs with the low `s` only; the mirror of one of its signatures is
            // refused. (Other issuers' signers — Java's, Go's — do not normalize, so their
            // tokens are taken with either.)
            if header.alg == Algorithm::ES256 && !super::es256::has_low_s(token) {
                return Err(TokenError::BadSignature);
            }
            self.verify_own(token, &header)?
        } else if let Some(external) = self.externals.iter().find(|e| e.config.issuer == issuer) {
            self.verify_external(token, &header, external).await?
        } else {
            return Err(TokenError::UntrustedIssuer);
        };
        let principal = Arc::new(principal);
        self.verified
            .insert(token.to_owned(), principal.clone())
            .await;
        Ok(principal)
    }

    fn validation(alg: Algorithm, issuer: &str, audience: &str) -> Validation {
        let mut v = Validation::new(alg);
        v.leeway = LEEWAY_SECONDS;
        v.validate_nbf = true;
        v.set_issuer(&[issuer]);
        v.set_audience(&[audience]);
        v.set_required_spec_claims(&["exp", "iss", "aud"]);
        v
    }

    fn verify_own(
        &self,
        token: &str,
        header: &jsonwebtoken::Header,
    ) -> Result<Principal, TokenError> {
        if !is_access_token_type(header) {
            return Err(TokenError::WrongType);
        }
        if header.alg != SIGNING_ALGORITHM {
            return Err(TokenError::BadSignature);
        }
        let key = header
            .kid
            .as_deref()
            .and_then(|kid| self.keys.iter().find(|k| k.kid == kid))
            .ok_or(TokenError::UnknownKey)?;
        let validation = Self::validation(SIGNING_ALGORITHM, &self.issuer, &self.audience);
        let data = jsonwebtoken::decode::<AccessClaims>(token, &key.decoding, &validation)
            .map_err(|e| TokenError::from_jwt(&e))?;
        let claims = data.claims;
        let municipalities = claims
            .municipalities
            .iter()
            .map(|m| LgCode::parse(m).map_err(|_| TokenError::Malformed))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Principal {
            issuer: claims.iss,
            client_id: claims.client_id,
            scopes: ScopeSet::parse_lenient(&claims.scope),
            municipalities,
            link_areas: claims.link_areas,
            expires_at: claims.exp,
        })
    }

    async fn fetch_jwks(&self, external: &External) -> Result<Arc<JwkSet>, TokenError> {
        let url = external.config.jwks_url.clone();
        let http = self.http.clone();
        self.jwks
            .try_get_with(url.clone(), async move {
                let response = http.get(&url).send().await?.error_for_status()?;
                let set: JwkSet = response.json().await?;
                Ok::<_, reqwest::Error>(Arc::new(set))
            })
            .await
            .map_err(|e| {
                tracing::warn!(issuer = %external.config.issuer, error = %e, "could not fetch the JWKS of a trusted issuer");
                TokenError::KeysUnavailable
            })
    }

    async fn external_key(
        &self,
        external: &External,
        kid: Option<&str>,
    ) -> Result<Jwk, TokenError> {
        let pick = |set: &JwkSet| -> Option<Jwk> {
            match kid {
                Some(kid) => set.find(kid).cloned(),
                None if set.keys.len() == 1 => set.keys.first().cloned(),
                None => None,
            }
        };
        if let Some(jwk) = pick(&*self.fetch_jwks(external).await?) {
            return Ok(jwk);
        }
        // The issuer may have rotated its keys: fetch again, but not more often than the
        // interval, so that tokens with made-up kids cannot make us hammer the issuer.
        {
            let mut last = external.last_refetch.lock().await;
            if last.is_some_and(|t| t.elapsed() < JWKS_REFETCH_INTERVAL) {
                return Err(TokenError::UnknownKey);
            }
            *last = Some(Instant::now());
        }
        self.jwks.invalidate(&external.config.jwks_url).await;
        pick(&*self.fetch_jwks(external).await?).ok_or(TokenError::UnknownKey)
    }

    async fn verify_external(
        &self,
        token: &str,
        header: &jsonwebtoken::Header,
        external: &External,
    ) -> Result<Principal, TokenError> {
        const ALLOWED: [Algorithm; 9] = [
            Algorithm::ES256,
            Algorithm::ES384,
            Algorithm::RS256,
            Algorithm::RS384,
            Algorithm::RS512,
            Algorithm::PS256,
            Algorithm::PS384,
            Algorithm::PS512,
            Algorithm::EdDSA,
        ];
        if !ALLOWED.contains(&header.alg) {
            return Err(TokenError::BadSignature);
        }
        if !external.config.accept_any_typ && !is_access_token_type(header) {
            return Err(TokenError::WrongType);
        }
        let jwk = self.external_key(external, header.kid.as_deref()).await?;
        let key = DecodingKey::from_jwk(&jwk).map_err(|_| TokenError::UnknownKey)?;
        let validation = Self::validation(header.alg, &external.config.issuer, &external.audience);
        let data = jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation)
            .map_err(|e| TokenError::from_jwt(&e))?;
        principal_from_external(&external.config, data.claims)
    }
}

/// RFC 9068 §2.1: an access token says `typ: at+jwt` (or its media type), so that an ID token
/// or another JWT of the same issuer cannot pass for one.
fn is_access_token_type(header: &jsonwebtoken::Header) -> bool {
    header.typ.as_deref().is_some_and(|t| {
        t.eq_ignore_ascii_case(ACCESS_TOKEN_TYPE) || t.eq_ignore_ascii_case("application/at+jwt")
    })
}

fn principal_from_external(
    config: &ExternalIssuer,
    claims: Map<String, Value>,
) -> Result<Principal, TokenError> {
    let text = |name: &str| claims.get(name).and_then(Value::as_str).map(str::to_owned);
    let client_id = text("client_id")
        .or_else(|| text("azp"))
        .or_else(|| {
            config
                .accept_sub_as_client_id
                .then(|| text("sub"))
                .flatten()
        })
        .ok_or(TokenError::MissingClaim("client_id".into()))?;
    let scopes = match (claims.get("scope"), claims.get("scp")) {
        (Some(Value::String(s)), _) => ScopeSet::parse_lenient(s),
        (_, Some(Value::Array(items))) => ScopeSet::parse_lenient(
            &items
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(" "),
        ),
        _ => ScopeSet::default(),
    };
    let mut municipalities = Vec::new();
    if let Some(Value::Array(items)) = claims.get(&config.municipalities_claim) {
        for item in items.iter().filter_map(Value::as_str) {
            match LgCode::parse(item) {
                Ok(code) => municipalities.push(code),
                Err(e) => tracing::warn!(
                    issuer = %config.issuer,
                    error = %e,
                    "ignoring a malformed municipality code in an external token"
                ),
            }
        }
    }
    municipalities.sort();
    municipalities.dedup();
    let expires_at = claims
        .get("exp")
        .and_then(Value::as_i64)
        .ok_or(TokenError::MissingClaim("exp".into()))?;
    Ok(Principal {
        issuer: config.issuer.clone(),
        client_id,
        scopes,
        municipalities,
        // An external issuer's `link` reaches every area: it has no claim for them.
        link_areas: None,
        expires_at,
    })
}
