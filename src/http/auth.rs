//! Bearer-token authorization for `/v1`: the [`Authorized`] extractor checks the token, the
//! scope its type parameter names, and — on every route with an `{lgCode}` segment — that the
//! token may act for that municipality. A handler cannot forget the municipality check.

use std::marker::PhantomData;
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::http::header::{self, HeaderName};
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use futures_util::future::LocalBoxFuture;

use super::middleware::request_id::RequestId;
use super::problem::{ApiError, ProblemKind};
use super::state::AppState;
use crate::audit::Actor;
use crate::auth::{Principal, Scope, TokenError};
use crate::i18n::Text;
use crate::tenancy::LgCode;

pub const ACTOR_HEADER: HeaderName = HeaderName::from_static("madoguchi-actor");
const REALM: &str = "madoguchi";

/// A scope a route requires, as a type.
pub trait RequiredScope {
    const SCOPE: Scope;
}

/// Marker types for [`Authorized`].
pub mod scopes {
    use super::{RequiredScope, Scope};

    macro_rules! marker {
        ($name:ident) => {
            pub struct $name;
            impl RequiredScope for $name {
                const SCOPE: Scope = Scope::$name;
            }
        };
    }
    marker!(Admin);
    marker!(MunicipalitiesRead);
    marker!(MunicipalitiesWrite);
    marker!(AuditRead);
    marker!(Forms);
    marker!(Visits);
    marker!(Card);
    marker!(Residents);
    marker!(Link);
    marker!(Conformance);
}

/// A caller whose token carries scope `S` (and, on municipality routes, the municipality).
pub struct Authorized<S> {
    pub principal: Arc<Principal>,
    /// Client, acting staff and request, for the audit log.
    pub actor: Actor,
    /// The municipality of the route, when it has one.
    pub lg_code: Option<LgCode>,
    _scope: PhantomData<S>,
}

fn bearer_challenge(error: Option<(&str, &str)>) -> String {
    match error {
        None => format!("Bearer realm=\"{REALM}\""),
        Some((code, description)) => format!(
            "Bearer realm=\"{REALM}\", error=\"{code}\", error_description=\"{description}\""
        ),
    }
}

fn missing_token() -> ApiError {
    ApiError::new(
        ProblemKind::MissingToken,
        Text::new(
            "Authorization: Bearer ヘッダーでアクセストークンを送ってください。",
            "Send an access token in an Authorization: Bearer header.",
        ),
    )
    .with_header(header::WWW_AUTHENTICATE, &bearer_challenge(None))
}

pub fn token_problem(err: &TokenError) -> ApiError {
    if matches!(err, TokenError::KeysUnavailable) {
        return ApiError::new(
            ProblemKind::ServiceUnavailable,
            Text::new(
                "トークン発行者の公開鍵を取得できないため、トークンを検証できません。しばらくして再試行してください。",
                "The token cannot be verified now: its issuer's keys cannot be fetched. Retry later.",
            ),
        )
        .with_header(header::RETRY_AFTER, "30");
    }
    let ja = match err {
        TokenError::Expired => {
            "アクセストークンの有効期限が切れています。新しいトークンを取得してください。"
        }
        TokenError::NotYetValid => {
            "アクセストークンはまだ有効になっていません(時刻のずれを確認してください)。"
        }
        TokenError::BadSignature => {
            "アクセストークンの署名を検証できません。改ざんされている可能性があります。"
        }
        TokenError::UntrustedIssuer => {
            "アクセストークンの発行者(iss)はこのゲートウェイが信頼する発行者ではありません。"
        }
        TokenError::WrongAudience => {
            "アクセストークンの対象(aud)がこのゲートウェイではありません。"
        }
        TokenError::WrongType => "アクセストークンではありません(typ は at+jwt であること)。",
        TokenError::UnknownKey => "アクセストークンに署名した鍵が見つかりません。",
        TokenError::MissingClaim(_) => "アクセストークンに必要なクレームがありません。",
        TokenError::Malformed | TokenError::KeysUnavailable => {
            "アクセストークンの形式が正しくありません。"
        }
    };
    let en = err.to_string();
    ApiError::new(ProblemKind::InvalidToken, Text::new(ja, en.clone())).with_header(
        header::WWW_AUTHENTICATE,
        &bearer_challenge(Some(("invalid_token", &en))),
    )
}

pub fn insufficient_scope(scope: Scope) -> ApiError {
    ApiError::new(
        ProblemKind::InsufficientScope,
        Text::new(
            format!("この操作にはスコープ「{scope}」が必要です。"),
            format!("This operation needs the scope {scope}."),
        ),
    )
    .with_header(
        header::WWW_AUTHENTICATE,
        &format!("Bearer realm=\"{REALM}\", error=\"insufficient_scope\", scope=\"{scope}\""),
    )
}

pub fn lg_code_problem(raw: &str) -> Result<LgCode, ApiError> {
    LgCode::parse(raw).map_err(|e| ApiError::new(ProblemKind::InvalidLgCode, e.text()))
}

/// The staff id from `Madoguchi-Actor`, when given; refused when malformed, or when the
/// header comes twice (which of two clerks acted would be a guess).
fn staff(req: &HttpRequest) -> Result<Option<String>, ApiError> {
    let mut values = req.headers().get_all(&ACTOR_HEADER);
    let Some(value) = values.next() else {
        return Ok(None);
    };
    let invalid = || {
        ApiError::new(
            ProblemKind::InvalidActor,
            Text::new(
                "Madoguchi-Actor は1つだけ、職員番号を1〜64文字(UTF-8、制御文字・双方向制御文字・ゼロ幅文字なし)で入れてください。",
                "Send one Madoguchi-Actor header: a staff id of 1 to 64 characters (UTF-8, no control, bidirectional or zero-width characters).",
            ),
        )
    };
    if values.next().is_some() {
        return Err(invalid());
    }
    let s = std::str::from_utf8(value.as_bytes()).map_err(|_| invalid())?;
    let mut errors = crate::validation::FieldErrors::default();
    let staff = errors.text("", &Text::new("職員番号", "staff id"), s, 64);
    if !errors.is_empty() {
        return Err(invalid());
    }
    Ok(Some(staff))
}

pub(crate) fn bearer_token(req: &HttpRequest) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// What a request may do, once its token, scope and municipality are checked.
pub(crate) struct Authorization {
    pub principal: Arc<Principal>,
    pub actor: Actor,
    pub lg_code: Option<LgCode>,
}

/// Checks the bearer token, the `scope`, the acting clerk and — on a route with `{lgCode}` —
/// that the token may act for that municipality (a refusal is audited). Shared by the
/// [`Authorized`] extractor and by middleware that must authorize before it answers (an
/// idempotent replay).
pub(crate) async fn authorize(req: &HttpRequest, scope: Scope) -> Result<Authorization, ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::internal("AppState is not registered"))?;
    let token = bearer_token(req).ok_or_else(missing_token)?;
    let principal = state
        .verifier
        .verify(token)
        .await
        .map_err(|e| token_problem(&e))?;
    if !principal.has_scope(scope) {
        return Err(insufficient_scope(scope));
    }
    let actor = Actor {
        client_id: Some(principal.client_id.clone()),
        staff: staff(req)?,
        request_id: req.extensions().get::<RequestId>().map(|r| r.0.clone()),
    };
    let lg_code = match req.match_info().get("lgCode") {
        None => None,
        Some(raw) => {
            let code = lg_code_problem(raw)?;
            if !principal.may_act_for(&code) {
                deny(state, &actor, code).await?;
                return Err(ApiError::new(
                    ProblemKind::MunicipalityForbidden,
                    Text::new(
                        format!("このクライアントは団体 {code} のために操作できません。"),
                        format!("This client may not act for municipality {code}."),
                    ),
                ));
            }
            Some(code)
        }
    };
    Ok(Authorization {
        principal,
        actor,
        lg_code,
    })
}

impl<S: RequiredScope + 'static> FromRequest for Authorized<S> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let gate = super::extract::AuthGate::install(req);
        let req = req.clone();
        Box::pin(async move {
            let Authorization {
                principal,
                actor,
                lg_code,
            } = authorize(&req, S::SCOPE).await?;
            gate.open();
            Ok(Authorized {
                principal,
                actor,
                lg_code,
                _scope: PhantomData,
            })
        })
    }
}

/// A caller with scope `S` who names the clerk acting in `Madoguchi-Actor`: every route that
/// reads or writes personal data (visits, card readings, the resident directory) takes one,
/// so that the audit log says which clerk it was. Checked right after the token, before the
/// body is read.
pub struct Clerk<S>(pub Authorized<S>);

impl<S> std::ops::Deref for Clerk<S> {
    type Target = Authorized<S>;
    fn deref(&self) -> &Authorized<S> {
        &self.0
    }
}

impl<S: RequiredScope + 'static> FromRequest for Clerk<S> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let authorized = Authorized::<S>::from_request(req, payload);
        Box::pin(async move {
            let auth = authorized.await?;
            if auth.actor.staff.is_none() {
                return Err(no_clerk(S::SCOPE));
            }
            Ok(Clerk(auth))
        })
    }
}

/// Why a route of `scope` needs the clerk's staff id.
fn no_clerk(scope: Scope) -> ApiError {
    let (ja, en) = match scope {
        Scope::Card => (
            "カードの読取りは個人情報を扱うため",
            "Reading a card handles personal data",
        ),
        Scope::Residents => (
            "住民記録の照会は監査のため",
            "Directory lookups are audited",
        ),
        _ => ("来庁は個人情報を扱うため", "A visit holds personal data"),
    };
    ApiError::new(
        ProblemKind::InvalidActor,
        Text::new(
            format!("{ja}、Madoguchi-Actor ヘッダーに操作する職員の職員番号を入れてください。"),
            format!("{en}: send the acting clerk's staff id in the Madoguchi-Actor header."),
        ),
    )
}

impl<S> Authorized<S> {
    /// The route's municipality; only on routes with `{lgCode}`.
    pub fn municipality(&self) -> Result<LgCode, ApiError> {
        self.lg_code
            .ok_or_else(|| ApiError::internal("route has no {lgCode} segment"))
    }
}

/// Records a refused attempt in the target municipality's audit log (see
/// [`crate::audit::record_denial`]). When it cannot be recorded, the caller gets 503 rather
/// than a refusal that left no trace.
async fn deny(state: &AppState, actor: &Actor, code: LgCode) -> Result<(), ApiError> {
    tracing::warn!(
        client_id = actor.client_id.as_deref().unwrap_or("-"),
        lg_code = %code,
        "refused access to a municipality the token was not granted"
    );
    crate::audit::record_denial(
        &state.store,
        &state.municipalities,
        actor,
        code,
        std::time::Duration::from_secs(state.settings.audit.denial_window_seconds),
    )
    .await
    .map_err(|e| {
        ApiError::new(
            ProblemKind::ServiceUnavailable,
            Text::new(
                "監査ログに記録できないため、リクエストを処理できません。しばらくして再試行してください。",
                "The request cannot be answered because the audit log cannot record it; retry later.",
            ),
        )
        .with_header(header::RETRY_AFTER, "1")
        .with_internal(e)
    })
}
