//! The console's side of OpenID Connect with a municipality's identity provider: discovery
//! (cached for ten minutes, read again once when a token names a key the cached set lacks),
//! the authorization request with PKCE (S256), a state and a nonce, and the code exchanged for
//! an ID token whose signature, `iss`, `aud`, `azp`, `exp` and nonce are checked by the
//! `openidconnect` crate. What the token says becomes an [`Identity`]: the subject, the login
//! and name claims, the role from the configured claim.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use base64::Engine;
use openidconnect::core::{CoreClient, CoreProviderMetadata, CoreResponseType};
use openidconnect::{
    AuthenticationFlow, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope,
};
use serde_json::Value;
use tokio::sync::Mutex;

use crate::config::SsoSettings;
use crate::i18n::Text;
use crate::staff::Role;
use crate::staff::sso::Identity;
use crate::tenancy::LgCode;

/// How long a provider's metadata and keys are used before they are read again.
const METADATA_TTL: Duration = Duration::from_secs(600);

/// Why single sign-on did not give an identity, as the clerk is told.
#[derive(Debug, thiserror::Error)]
pub enum SsoFailure {
    /// The provider could not be reached or answered with something unusable.
    #[error("the identity provider is unavailable: {0}")]
    Unavailable(String),
    /// The ID token or the answer failed a check.
    #[error("the identity provider's answer failed a check: {0}")]
    Invalid(String),
    /// The token names no role the console knows.
    #[error("no role in claim {0}")]
    NoRole(String),
    /// The token has no usable login claim.
    #[error("no login in claim {0}")]
    NoLogin(String),
}

impl SsoFailure {
    pub fn message(&self) -> Text {
        match self {
            SsoFailure::Unavailable(_) => Text::new(
                "庁内の認証サーバーに接続できませんでした。しばらくしてからもう一度お試しいただくか、パスワードでログインしてください。",
                "The identity provider could not be reached. Try again later, or log in with a password.",
            ),
            SsoFailure::Invalid(_) => Text::new(
                "認証サーバーからの応答を確認できませんでした。もう一度ログインしてください。続く場合は情報システム担当に連絡してください。",
                "The identity provider's answer could not be checked. Log in again; if it happens again, tell the IT staff.",
            ),
            SsoFailure::NoRole(claim) => Text::new(
                format!(
                    "このアカウントには窓口システムの役割({claim})が割り当てられていません。情報システム担当に割り当てを依頼してください。"
                ),
                format!(
                    "This account has no role for the counter console (claim {claim}). Ask the IT staff to assign one."
                ),
            ),
            SsoFailure::NoLogin(claim) => Text::new(
                format!(
                    "認証サーバーがログイン名({claim})を送ってきませんでした。情報システム担当に連絡してください。"
                ),
                format!(
                    "The identity provider sent no login name (claim {claim}). Tell the IT staff."
                ),
            ),
        }
    }
}

struct Provider {
    settings: SsoSettings,
    secret: Option<ClientSecret>,
    metadata: Mutex<Option<(Instant, CoreProviderMetadata)>>,
}

/// The identity providers of the municipalities that have one.
pub struct Providers {
    by_lg: HashMap<LgCode, Provider>,
    http: reqwest::Client,
}

/// An authorization request under way: where to send the browser, and what the callback must
/// match (kept by the browser in a cookie until it comes back).
pub struct Begun {
    pub url: String,
    pub state: String,
    pub nonce: String,
    pub verifier: String,
}

impl Providers {
    /// The providers of `settings` (checked by `Settings::check`); a client secret file that
    /// cannot be read is an error at start-up, not at the first login.
    pub fn new(settings: &[SsoSettings]) -> Result<Self, String> {
        let mut by_lg = HashMap::new();
        for s in settings {
            let lg = LgCode::parse(&s.lg_code)
                .map_err(|e| format!("console.sso lg_code {}: {e}", s.lg_code))?;
            let secret = match &s.client_secret_file {
                Some(path) => {
                    let text = std::fs::read_to_string(path).map_err(|e| {
                        format!("console.sso client_secret_file {}: {e}", path.display())
                    })?;
                    Some(ClientSecret::new(text.trim().to_owned()))
                }
                None => None,
            };
            by_lg.insert(
                lg,
                Provider {
                    settings: s.clone(),
                    secret,
                    metadata: Mutex::new(None),
                },
            );
        }
        // The provider's endpoints must answer themselves: following a redirect could send a
        // code or a secret where the metadata did not say (the openidconnect crate's advice).
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| format!("console.sso HTTP client: {e}"))?;
        Ok(Self { by_lg, http })
    }

    /// The login page's button for the municipality, when it has a provider.
    pub fn label(&self, lg: LgCode) -> Option<String> {
        self.by_lg.get(&lg).map(|p| {
            p.settings
                .label
                .clone()
                .unwrap_or_else(|| "庁内アカウントでログイン".to_owned())
        })
    }

    /// The redirect URL registered for the municipality, when the settings name one.
    pub fn redirect_url(&self, lg: LgCode) -> Option<String> {
        self.by_lg
            .get(&lg)
            .and_then(|p| p.settings.redirect_url.clone())
    }

    async fn metadata(
        &self,
        p: &Provider,
        fresh: bool,
    ) -> Result<CoreProviderMetadata, SsoFailure> {
        let mut cached = p.metadata.lock().await;
        if !fresh
            && let Some((at, m)) = cached.as_ref()
            && at.elapsed() < METADATA_TTL
        {
            return Ok(m.clone());
        }
        let issuer = IssuerUrl::new(p.settings.issuer.clone())
            .map_err(|e| SsoFailure::Unavailable(format!("issuer {}: {e}", p.settings.issuer)))?;
        let http = self.http.clone();
        let send = move |request: openidconnect::HttpRequest| {
            let http = http.clone();
            async move { crate::link::connectors::http::exchange(&http, request).await }
        };
        let m = CoreProviderMetadata::discover_async(issuer, &send)
            .await
            .map_err(|e| {
                SsoFailure::Unavailable(format!("discovery of {}: {e}", p.settings.issuer))
            })?;
        *cached = Some((Instant::now(), m.clone()));
        Ok(m)
    }

    fn provider(&self, lg: LgCode) -> Result<&Provider, SsoFailure> {
        self.by_lg
            .get(&lg)
            .ok_or_else(|| SsoFailure::Invalid(format!("{lg} has no identity provider")))
    }

    fn client(
        p: &Provider,
        metadata: CoreProviderMetadata,
        redirect: &str,
    ) -> Result<
        CoreClient<
            openidconnect::EndpointSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointMaybeSet,
            openidconnect::EndpointMaybeSet,
        >,
        SsoFailure,
    > {
        let redirect = RedirectUrl::new(redirect.to_owned())
            .map_err(|e| SsoFailure::Invalid(format!("redirect URL {redirect}: {e}")))?;
        Ok(CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(p.settings.client_id.clone()),
            p.secret.clone(),
        )
        .set_redirect_uri(redirect))
    }

    /// Starts an authorization request for the municipality's provider, coming back to
    /// `redirect`.
    pub async fn begin(&self, lg: LgCode, redirect: &str) -> Result<Begun, SsoFailure> {
        let p = self.provider(lg)?;
        let client = Self::client(p, self.metadata(p, false).await?, redirect)?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client
            .authorize_url(
                AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge);
        for scope in &p.settings.scopes {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let (url, state, nonce) = request.url();
        Ok(Begun {
            url: url.to_string(),
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            verifier: verifier.secret().clone(),
        })
    }

    /// Exchanges the callback's code (with the request's PKCE verifier) for an ID token,
    /// checks it, and reads who it names.
    pub async fn finish(
        &self,
        lg: LgCode,
        redirect: &str,
        code: &str,
        verifier: &str,
        nonce: &str,
    ) -> Result<Identity, SsoFailure> {
        let p = self.provider(lg)?;
        let client = Self::client(p, self.metadata(p, false).await?, redirect)?;
        let http = self.http.clone();
        let send = move |request: openidconnect::HttpRequest| {
            let http = http.clone();
            async move { crate::link::connectors::http::exchange(&http, request).await }
        };
        let token = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| SsoFailure::Unavailable(format!("token endpoint: {e}")))?
            .set_pkce_verifier(PkceCodeVerifier::new(verifier.to_owned()))
            .request_async(&send)
            .await
            .map_err(|e| SsoFailure::Invalid(format!("code exchange: {e}")))?;
        let id_token = token
            .extra_fields()
            .id_token()
            .ok_or_else(|| SsoFailure::Invalid("the token answer has no id_token".to_owned()))?;
        let nonce = Nonce::new(nonce.to_owned());
        let subject = match id_token.claims(&client.id_token_verifier(), &nonce) {
            Ok(claims) => claims.subject().as_str().to_owned(),
            Err(openidconnect::ClaimsVerificationError::SignatureVerification(_)) => {
                // The provider may have rotated its keys since the metadata was read.
                let client = Self::client(p, self.metadata(p, true).await?, redirect)?;
                let claims = id_token
                    .claims(&client.id_token_verifier(), &nonce)
                    .map_err(|e| SsoFailure::Invalid(format!("ID token: {e}")))?;
                claims.subject().as_str().to_owned()
            }
            Err(e) => return Err(SsoFailure::Invalid(format!("ID token: {e}"))),
        };
        let payload = payload(&id_token.to_string())?;
        identity(&p.settings, subject, &payload)
    }
}

/// The claims of a compact JWS whose signature the caller has checked: the configured role
/// and login claims are not standard ones the crate's claim types carry.
fn payload(jwt: &str) -> Result<Value, SsoFailure> {
    let part = jwt
        .split('.')
        .nth(1)
        .ok_or_else(|| SsoFailure::Invalid("the ID token is not a compact JWS".to_owned()))?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|e| SsoFailure::Invalid(format!("ID token payload: {e}")))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| SsoFailure::Invalid(format!("ID token payload: {e}")))
}

/// Who the claims name, with the role the configured claim gives (the highest, when it is a
/// list).
fn identity(s: &SsoSettings, subject: String, claims: &Value) -> Result<Identity, SsoFailure> {
    let values: Vec<&str> = match claims.get(&s.role_claim) {
        Some(Value::String(v)) => vec![v.as_str()],
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let role = values
        .iter()
        .filter_map(|v| {
            if s.roles.is_empty() {
                Role::parse(v)
            } else {
                s.roles.get(*v).and_then(|r| Role::parse(r))
            }
        })
        .max()
        .ok_or_else(|| SsoFailure::NoRole(s.role_claim.clone()))?;
    let login = claims
        .get(&s.login_claim)
        .and_then(Value::as_str)
        .map(|l| l.trim().to_lowercase())
        .filter(|l| !l.is_empty())
        .ok_or_else(|| SsoFailure::NoLogin(s.login_claim.clone()))?;
    let name = claims
        .get("name")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .unwrap_or(&login)
        .chars()
        .take(64)
        .collect();
    Ok(Identity {
        subject,
        login,
        name,
        role,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn settings(roles: &[(&str, &str)]) -> SsoSettings {
        SsoSettings {
            lg_code: "012084".to_owned(),
            issuer: "https://idp.example".to_owned(),
            client_id: "console".to_owned(),
            client_secret_file: None,
            redirect_url: None,
            role_claim: "madoguchi_role".to_owned(),
            roles: roles
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            login_claim: "preferred_username".to_owned(),
            scopes: vec!["profile".to_owned()],
            label: None,
            allow_http: false,
        }
    }

    #[test]
    fn the_highest_role_a_list_names_counts() {
        let s = settings(&[("窓口係", "clerk"), ("市民課長", "supervisor")]);
        let claims = json!({"madoguchi_role": ["窓口係", "市民課長", "総務"], "preferred_username": "Sato", "name": "佐藤 花子"});
        let id = identity(&s, "sub-1".to_owned(), &claims).unwrap();
        assert_eq!(id.role, Role::Supervisor);
        assert_eq!(id.login, "sato");
        assert_eq!(id.name, "佐藤 花子");
    }

    #[test]
    fn without_a_known_role_there_is_no_login() {
        let s = settings(&[]);
        let claims = json!({"madoguchi_role": "guest", "preferred_username": "sato"});
        assert!(matches!(
            identity(&s, "sub-1".to_owned(), &claims),
            Err(SsoFailure::NoRole(_))
        ));
        let claims = json!({"madoguchi_role": "admin"});
        assert!(matches!(
            identity(&s, "sub-1".to_owned(), &claims),
            Err(SsoFailure::NoLogin(_))
        ));
    }
}
