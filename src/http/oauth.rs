//! `POST /oauth/token` (RFC 6749 §4.4 client credentials) and `/.well-known/jwks.json`.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use jsonwebtoken::jwk::JwkSet;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::middleware::client_address::client_address;
use super::problem::{ApiError, ProblemDoc, ProblemKind};
use super::state::AppState;
use crate::auth::{AuthenticationError, ScopeSet, authenticate_client};
use crate::i18n::Text;

/// The token request (form-encoded). Client credentials go in HTTP Basic
/// (`client_secret_basic`) or in the form (`client_secret_post`), not both.
#[derive(Debug, Deserialize, ToSchema)]
pub struct TokenForm {
    /// Must be `client_credentials`.
    #[schema(example = "client_credentials")]
    pub grant_type: Option<String>,
    /// Space-separated subset of the client's scopes; all of them when absent.
    #[schema(example = "municipalities:read")]
    pub scope: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
}

/// RFC 6749 §5.1 access token response.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    /// A signed JWT (RFC 9068), `typ` at+jwt, ES256.
    pub access_token: String,
    #[schema(example = "Bearer")]
    pub token_type: String,
    /// Seconds until it expires.
    #[schema(example = 300)]
    pub expires_in: u64,
    #[schema(example = "municipalities:read")]
    pub scope: String,
}

/// An OAuth error: a problem that also carries RFC 6749 §5.2's `error` and
/// `error_description`, so that OAuth client libraries understand it.
fn oauth_error(kind: ProblemKind, text: Text) -> ApiError {
    let description = text.en.to_string();
    ApiError::new(kind, text)
        .with_extension("error", kind.code())
        .with_extension("error_description", description)
}

fn invalid_request(ja: &str, en: &str) -> ApiError {
    oauth_error(
        ProblemKind::InvalidRequest,
        Text::new(ja.to_owned(), en.to_owned()),
    )
}

fn invalid_client() -> ApiError {
    oauth_error(
        ProblemKind::InvalidClient,
        Text::new(
            "クライアント認証に失敗しました。client_id と client_secret を確認してください。",
            "Client authentication failed: check client_id and client_secret.",
        ),
    )
    .with_header(header::WWW_AUTHENTICATE, "Basic realm=\"madoguchi\"")
}

/// Too many failed attempts: RFC 6749's `temporarily_unavailable`, as 429 with the true wait.
fn throttled(wait: std::time::Duration) -> ApiError {
    // Whole seconds, rounded up: retrying at the announced time must not be refused again.
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let description = format!(
        "Too many failed client authentications from this address or for this client; retry in {seconds} s."
    );
    ApiError::new(
        ProblemKind::TooManyFailedAttempts,
        Text::new(
            format!(
                "クライアント認証の失敗が続いたため、{seconds}秒間受け付けません。client_id と client_secret を確認してから再試行してください。"
            ),
            description.clone(),
        ),
    )
    .with_extension("error", "temporarily_unavailable")
    .with_extension("error_description", description)
    .with_header(header::RETRY_AFTER, &seconds.to_string())
}

/// RFC 6749 §2.3.1: both parts of Basic credentials are form-urlencoded first.
fn form_decode(s: &str) -> Option<String> {
    percent_encoding::percent_decode_str(&s.replace('+', " "))
        .decode_utf8()
        .ok()
        .map(|c| c.into_owned())
}

pub(crate) fn basic_credentials(req: &HttpRequest) -> Result<Option<(String, String)>, ApiError> {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let malformed = || invalid_client();
    let value = value.to_str().map_err(|_| malformed())?;
    let Some((scheme, encoded)) = value.split_once(' ') else {
        return Err(malformed());
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(malformed());
    }
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| malformed())?;
    let decoded = String::from_utf8(decoded).map_err(|_| malformed())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(malformed)?;
    Ok(Some((
        form_decode(id).ok_or_else(malformed)?,
        form_decode(secret).ok_or_else(malformed)?,
    )))
}

/// Get an access token with client credentials.
#[utoipa::path(
    tag = "oauth",
    request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "A token", body = TokenResponse),
        (status = 400, description = "invalid_request, unsupported_grant_type or invalid_scope", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 401, description = "invalid_client", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 415, description = "Not form-encoded", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed attempts from this address or for this client (temporarily_unavailable); Retry-After says when to retry", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security((), ("basic" = []))
)]
#[post("/oauth/token")]
pub async fn token(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<TokenForm>,
) -> Result<HttpResponse, ApiError> {
    let form = form.into_inner();
    match form.grant_type.as_deref() {
        None => {
            return Err(invalid_request(
                "grant_type を指定してください(client_credentials)。",
                "grant_type is required (client_credentials).",
            ));
        }
        Some("client_credentials") => {}
        Some(other) => {
            return Err(oauth_error(
                ProblemKind::UnsupportedGrantType,
                Text::new(
                    format!(
                        "grant_type「{other}」は使えません。client_credentials を指定してください。"
                    ),
                    format!("grant_type {other:?} is not supported; use client_credentials."),
                ),
            ));
        }
    }
    let basic = basic_credentials(&req)?;
    let (client_id, secret) = match (basic, form.client_id, form.client_secret) {
        (Some(_), _, Some(_)) => {
            return Err(invalid_request(
                "クライアント認証は Basic 認証かフォーム本文のどちらか一方で行ってください。",
                "Authenticate the client with HTTP Basic or with the form body, not both.",
            ));
        }
        (Some(creds), _, None) => creds,
        (None, Some(id), Some(secret)) => (id, secret),
        _ => return Err(invalid_client()),
    };
    let address = client_address(&req, &state.settings.http.trusted_proxies);
    let client =
        match authenticate_client(&state.store, &state.lockout, &client_id, &secret, address).await
        {
            Ok(client) => client,
            Err(AuthenticationError::Throttled(wait)) => return Err(throttled(wait)),
            Err(AuthenticationError::Refused) => return Err(invalid_client()),
            Err(AuthenticationError::Store(e)) => return Err(e.into()),
        };
    let scopes = match form.scope.as_deref().map(str::trim) {
        None | Some("") => client.scopes.clone(),
        Some(requested) => {
            let requested = ScopeSet::parse_strict(requested).map_err(|unknown| {
                oauth_error(
                    ProblemKind::InvalidScope,
                    Text::new(
                        format!("スコープ「{unknown}」はありません。"),
                        format!("There is no scope {unknown:?}."),
                    ),
                )
            })?;
            if !requested.is_subset_of(&client.scopes) {
                return Err(oauth_error(
                    ProblemKind::InvalidScope,
                    Text::new(
                        format!(
                            "このクライアントに許可されたスコープは「{}」です。",
                            client.scopes
                        ),
                        format!("This client may request only: {}.", client.scopes),
                    ),
                ));
            }
            requested
        }
    };
    let issued = state
        .issuer
        .issue(&client, scopes)
        .map_err(ApiError::internal)?;
    tracing::info!(client_id = %client.id, scope = %issued.scopes, "issued an access token");
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, HeaderValue::from_static("no-cache")))
        .json(TokenResponse {
            access_token: issued.access_token,
            token_type: "Bearer".to_owned(),
            expires_in: issued.expires_in,
            scope: issued.scopes.to_string(),
        }))
}

/// The public keys that verify this gateway's access tokens (RFC 7517).
#[utoipa::path(
    tag = "oauth",
    responses((status = 200, description = "JWK set", body = Object, content_type = "application/json")),
    security(())
)]
#[get("/.well-known/jwks.json")]
pub async fn jwks(state: web::Data<AppState>) -> HttpResponse {
    let set = JwkSet {
        keys: state.public_keys.iter().map(|k| k.jwk.clone()).collect(),
    };
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .json(set)
}
