//! Access tokens (RFC 9068 profile of JWT): what they carry, issuing them, and the principal
//! a verified token stands for.

use std::time::Duration;

use chrono::Utc;
use jsonwebtoken::Header;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::client::Client;
use super::keys::{SIGNING_ALGORITHM, SigningKey};
use super::scope::{Scope, ScopeSet};
use crate::tenancy::LgCode;

/// `typ` header of access tokens (RFC 9068 §2.1).
pub const ACCESS_TOKEN_TYPE: &str = "at+jwt";

/// The claims of an access token issued by this gateway.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub nbf: i64,
    pub jti: String,
    pub client_id: String,
    pub scope: String,
    /// 全国地方公共団体コード of the municipalities the client may act for.
    pub municipalities: Vec<String>,
    /// With scope `link`: the business areas the core system may pull and answer; absent for
    /// every area.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_areas: Option<Vec<String>>,
}

/// Who is calling, as proven by a verified token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub issuer: String,
    pub client_id: String,
    pub scopes: ScopeSet,
    pub municipalities: Vec<LgCode>,
    /// The business areas scope `link` is limited to; `None` for every area.
    pub link_areas: Option<Vec<String>>,
    /// Seconds since the epoch.
    pub expires_at: i64,
}

impl Principal {
    pub fn has_scope(&self, scope: Scope) -> bool {
        self.scopes.contains(scope)
    }

    pub fn may_act_for(&self, lg_code: &LgCode) -> bool {
        self.municipalities.contains(lg_code)
    }

    /// Whether scope `link` reaches business area `area`.
    pub fn may_link(&self, area: &str) -> bool {
        self.link_areas
            .as_ref()
            .is_none_or(|areas| areas.iter().any(|a| a == area))
    }

    pub fn is_expired(&self) -> bool {
        self.expires_at <= Utc::now().timestamp()
    }
}

#[derive(Debug)]
pub struct IssuedToken {
    pub access_token: String,
    pub expires_in: u64,
    pub scopes: ScopeSet,
}

#[derive(Debug, thiserror::Error)]
#[error("could not sign an access token: {0}")]
pub struct SignError(String);

/// Signs access tokens with the gateway's key.
pub struct TokenIssuer {
    issuer: String,
    audience: String,
    ttl: Duration,
    key: SigningKey,
}

impl TokenIssuer {
    pub fn new(issuer: String, audience: String, ttl: Duration, key: SigningKey) -> Self {
        Self {
            issuer,
            audience,
            ttl,
            key,
        }
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// A token for `client` carrying `scopes` (already checked to be the client's).
    pub fn issue(&self, client: &Client, scopes: ScopeSet) -> Result<IssuedToken, SignError> {
        let now = Utc::now().timestamp();
        let ttl = self.ttl.as_secs();
        let claims = AccessClaims {
            iss: self.issuer.clone(),
            sub: client.id.to_string(),
            aud: self.audience.clone(),
            exp: now + i64::try_from(ttl).unwrap_or(i64::MAX / 2),
            iat: now,
            nbf: now,
            jti: Uuid::now_v7().to_string(),
            client_id: client.id.to_string(),
            scope: scopes.to_string(),
            municipalities: client
                .municipalities
                .iter()
                .map(LgCode::to_string)
                .collect(),
            link_areas: client.link_areas.clone(),
        };
        let mut header = Header::new(SIGNING_ALGORITHM);
        header.typ = Some(ACCESS_TOKEN_TYPE.to_owned());
        header.kid = Some(self.key.kid.clone());
        let access_token = jsonwebtoken::encode(&header, &claims, &self.key.encoding)
            .map_err(|e| SignError(e.to_string()))?;
        // The verifier takes only the low `s` (see `es256`); the signer may give either.
        let access_token = super::es256::with_low_s(&access_token);
        Ok(IssuedToken {
            access_token,
            expires_in: ttl,
            scopes,
        })
    }
}
