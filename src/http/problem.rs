//! RFC 9457 problem details: the one error type of the HTTP layer, the catalogue of problem
//! types (each served as a readable page under `/problems/`), and the middleware that renders
//! every error response, in the caller's language, as `application/problem+json`.

use std::future::{Ready, ready};
use std::rc::Rc;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::{HttpMessage, HttpRequest, HttpResponse, ResponseError};
use futures_util::future::LocalBoxFuture;
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::middleware::request_id::RequestId;
use crate::i18n::{Lang, Text};
use crate::validation::FieldError;

pub const PROBLEM_JSON: &str = "application/problem+json";

macro_rules! problem_kinds {
    ($( $variant:ident => $code:literal, $status:ident, $ja:literal, $en:literal, $about_ja:literal, $about_en:literal; )*) => {
        /// Every kind of problem the API reports. `code` is stable; the `type` URI is
        /// `/problems/` followed by the code with dashes.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum ProblemKind { $( $variant, )* }

        impl ProblemKind {
            pub const ALL: &'static [ProblemKind] = &[ $( ProblemKind::$variant, )* ];

            pub fn code(self) -> &'static str {
                match self { $( ProblemKind::$variant => $code, )* }
            }

            /// The kind whose stable code is `code`.
            pub fn from_code(code: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|k| k.code() == code)
            }

            pub fn status(self) -> StatusCode {
                match self { $( ProblemKind::$variant => StatusCode::$status, )* }
            }

            pub fn title(self) -> Text {
                match self { $( ProblemKind::$variant => Text::new($ja, $en), )* }
            }

            /// What the problem means and what to do about it, for its page.
            pub fn about(self) -> Text {
                match self { $( ProblemKind::$variant => Text::new($about_ja, $about_en), )* }
            }
        }
    };
}

problem_kinds! {
    NotFound => "not_found", NOT_FOUND,
        "リソースが見つかりません", "Resource not found",
        "指定されたリソースは存在しません。URL の識別子を確認してください。",
        "The resource does not exist. Check the identifier in the URL.";
    RouteNotFound => "route_not_found", NOT_FOUND,
        "この URL の API はありません", "No such API route",
        "この URL に対応する API はありません。/docs の API 仕様で正しいパスを確認してください。",
        "No API answers at this URL. See the API description at /docs for the right path.";
    MethodNotAllowed => "method_not_allowed", METHOD_NOT_ALLOWED,
        "このメソッドは使えません", "Method not allowed",
        "この URL はこの HTTP メソッドを受け付けません。Allow ヘッダーに使えるメソッドがあります。",
        "This URL does not accept this HTTP method. The Allow header lists the methods it accepts.";
    MalformedJson => "malformed_json", BAD_REQUEST,
        "JSON の構文が正しくありません", "Malformed JSON",
        "リクエスト本文を JSON として読めません。detail に示した行と列を確認してください。",
        "The request body is not valid JSON. The detail names the line and column.";
    UnsupportedMediaType => "unsupported_media_type", UNSUPPORTED_MEDIA_TYPE,
        "この Content-Type は受け付けません", "Unsupported media type",
        "リクエスト本文の Content-Type が API の受け付ける形式ではありません。",
        "The Content-Type of the request body is not one this API accepts.";
    PayloadTooLarge => "payload_too_large", PAYLOAD_TOO_LARGE,
        "リクエスト本文が大きすぎます", "Request body too large",
        "リクエスト本文が上限を超えています。上限は detail に示します。",
        "The request body exceeds the limit given in the detail.";
    InvalidRequest => "invalid_request", BAD_REQUEST,
        "リクエストが正しくありません", "Invalid request",
        "パス、クエリ、ヘッダーのいずれかが正しくありません。detail を確認してください。",
        "A path, query or header parameter is wrong. The detail says which.";
    ValidationFailed => "validation_failed", UNPROCESSABLE_ENTITY,
        "入力内容に誤りがあります", "Validation failed",
        "リクエスト本文の項目に誤りがあります。errors[] の各項目が JSON ポインタと直し方を示します。",
        "Fields of the request body are wrong. Each entry of errors[] gives a JSON pointer and how to fix it.";
    InvalidLgCode => "invalid_lg_code", BAD_REQUEST,
        "全国地方公共団体コードが正しくありません", "Invalid local government code",
        "全国地方公共団体コードは6桁で、6桁目は検査数字です。detail に正しい検査数字を示します。",
        "A local government code has six digits, the last being a check digit. The detail gives the right one.";
    InvalidCursor => "invalid_cursor", BAD_REQUEST,
        "cursor が正しくありません", "Invalid cursor",
        "cursor には直前の応答の nextCursor をそのまま渡してください。",
        "Pass the nextCursor of the previous response unchanged.";
    MissingToken => "missing_token", UNAUTHORIZED,
        "アクセストークンが必要です", "Access token required",
        "Authorization: Bearer ヘッダーでアクセストークンを送ってください。トークンは POST /oauth/token で取得します。",
        "Send an access token in an Authorization: Bearer header. Get one from POST /oauth/token.";
    InvalidToken => "invalid_token", UNAUTHORIZED,
        "アクセストークンが無効です", "Invalid access token",
        "アクセストークンが期限切れ、改ざん、または信頼されていない発行者のものです。新しいトークンを取得してください。",
        "The access token has expired, was altered, or comes from an issuer this gateway does not trust. Get a new token.";
    InsufficientScope => "insufficient_scope", FORBIDDEN,
        "この操作の権限(スコープ)がありません", "Insufficient scope",
        "アクセストークンにこの操作に必要なスコープがありません。必要なスコープは detail に示します。",
        "The access token lacks the scope this operation needs; the detail names it.";
    MunicipalityForbidden => "municipality_forbidden", FORBIDDEN,
        "この団体の操作は許可されていません", "Not permitted for this municipality",
        "このクライアントはこの団体のために操作する権限がありません。この試みは監査ログに記録されます。",
        "This client may not act for this municipality. The attempt is recorded in the audit log.";
    AreaForbidden => "area_forbidden", FORBIDDEN,
        "この業務の連携は許可されていません", "Not permitted for this business area",
        "このクライアントの link スコープは一部の業務に限られています。許可された業務は detail に示します。",
        "This client's scope link is limited to some business areas; the detail names them.";
    InvalidClient => "invalid_client", UNAUTHORIZED,
        "クライアント認証に失敗しました", "Client authentication failed",
        "client_id と client_secret を確認してください(Basic 認証またはフォーム本文)。失効したクライアントは使えません。",
        "Check client_id and client_secret (HTTP Basic or form body). Revoked clients cannot get tokens.";
    TooManyFailedAttempts => "too_many_failed_attempts", TOO_MANY_REQUESTS,
        "認証の失敗が続いています", "Too many failed attempts",
        "同じアドレスから、または同じクライアントについてクライアント認証の失敗が続いたため、しばらく受け付けません。Retry-After の秒数だけ待ち、client_id と client_secret を確認してから再試行してください。OAuth の error は temporarily_unavailable です。",
        "Client authentication failed too often from this address or for this client, so attempts are refused for a while. Wait for the seconds in Retry-After, check client_id and client_secret, then retry. The OAuth error is temporarily_unavailable.";
    UnsupportedGrantType => "unsupported_grant_type", BAD_REQUEST,
        "この grant_type は使えません", "Unsupported grant type",
        "このトークンエンドポイントは grant_type=client_credentials のみ受け付けます。",
        "This token endpoint accepts grant_type=client_credentials only.";
    InvalidScope => "invalid_scope", BAD_REQUEST,
        "要求したスコープは許可されていません", "Invalid scope",
        "scope にはクライアントに登録されたスコープだけを指定できます。",
        "The scope parameter may only name scopes registered for the client.";
    InvalidActor => "invalid_actor", BAD_REQUEST,
        "Madoguchi-Actor ヘッダーが正しくありません", "Invalid Madoguchi-Actor header",
        "Madoguchi-Actor には操作する職員の職員番号(1〜64文字、制御文字・双方向制御文字・ゼロ幅文字なし)を1つだけ入れてください。",
        "Madoguchi-Actor carries the acting staff member's id, once (1 to 64 characters, no control, bidirectional or zero-width characters).";
    InvalidIdempotencyKey => "invalid_idempotency_key", BAD_REQUEST,
        "Idempotency-Key が正しくありません", "Invalid Idempotency-Key",
        "Idempotency-Key には16〜255文字の英数字・記号を使います。リクエストごとに新しい UUID を推奨します。",
        "An Idempotency-Key is 16 to 255 visible ASCII characters; a new UUID per request is best.";
    IdempotencyKeyReused => "idempotency_key_reused", UNPROCESSABLE_ENTITY,
        "Idempotency-Key が別のリクエストで使われています", "Idempotency-Key reused",
        "同じ Idempotency-Key は同じ内容のリクエストの再送にだけ使えます。別のリクエストには新しいキーを使ってください。",
        "An Idempotency-Key may only be reused to resend the same request; use a new key for a different one.";
    IdempotencyInProgress => "idempotency_in_progress", CONFLICT,
        "同じ Idempotency-Key のリクエストを処理中です", "Request with this Idempotency-Key in progress",
        "最初のリクエストの処理が終わってから再試行してください。Retry-After に待ち時間を示します。",
        "Retry when the first request has finished; Retry-After says how long to wait.";
    IdempotencyQuotaExceeded => "idempotency_quota_exceeded", TOO_MANY_REQUESTS,
        "保存中の Idempotency-Key が上限に達しました", "Too many Idempotency-Keys held",
        "このクライアントが保存中の Idempotency-Key(件数または応答の合計サイズ)が上限に達しました。Retry-After の秒数で最も古いキーが期限切れになります。",
        "This client holds as many Idempotency-Keys (in number or in stored bytes) as it may. The oldest expires after the seconds in Retry-After.";
    Busy => "busy", TOO_MANY_REQUESTS,
        "重い処理が混み合っています", "Too much heavy work at once",
        "印刷など時間のかかる処理は、クライアントごとに同時に受け付ける件数に上限があります。Retry-After の秒数だけ待ってから再試行してください。",
        "Heavy work such as printouts is limited per client and for the whole gateway. Wait for the seconds in Retry-After, then retry.";
    IdempotentResponseNotKept => "idempotent_response_not_kept", CONFLICT,
        "最初の応答は保存されていません", "First response not kept",
        "この Idempotency-Key のリクエストは完了しています(originalStatus)。応答が大きすぎたため保存しておらず、再送はできません。結果は Location の URL で取得してください。",
        "The request with this Idempotency-Key was completed (originalStatus), but its response was too large to keep, so it cannot be replayed. Read the result at the Location URL.";
    FormNotFound => "form_not_found", NOT_FOUND,
        "様式が見つかりません", "Form not found",
        "指定された様式 ID または版はありません。detail と forms / versions に、ある様式と版を示します。GET /v1/forms で一覧を取得できます。",
        "There is no form with this id or version. The detail and the forms / versions members list what exists; GET /v1/forms lists them all.";
    UnknownDialect => "unknown_dialect", BAD_REQUEST,
        "この方言はありません", "Unknown dialect",
        "dialect パラメータに指定した方言(ベンダー形式の対応表)はありません。dialects に使える方言を示します。",
        "The dialect query parameter names no known vendor mapping; the dialects member lists those that exist.";
    UnknownNormalizeKind => "unknown_normalize_kind", NOT_FOUND,
        "この種類の正規化はありません", "Unknown kind of normalization",
        "POST /v1/normalize/{kind} の kind に使える値は kinds に示します。",
        "The kinds member lists the values POST /v1/normalize/{kind} accepts.";
    NormalizationFailed => "normalization_failed", UNPROCESSABLE_ENTITY,
        "値を標準形に直せません", "Value cannot be normalized",
        "入力された値を標準の形に直せませんでした。errors[] が理由を示し、直し方がある場合は suggestion に示します。",
        "The value could not be brought to its standard form. errors[] says why; suggestion gives the right value where there is one.";
    Conflict => "conflict", CONFLICT,
        "既に存在します", "Already exists",
        "同じ識別子のリソースが既にあります。",
        "A resource with the same identifier exists already.";
    VisitClosed => "visit_closed", CONFLICT,
        "来庁は終了しています", "Visit closed",
        "終了した来庁は変更できません。新しい来庁を作成してください。",
        "A closed visit cannot change. Open a new visit.";
    VisitChanged => "visit_changed", CONFLICT,
        "来庁が同時に変更されました", "Visit changed meanwhile",
        "同じ来庁が同時に別の端末から変更されました。来庁を読み直してから、もう一度送ってください。",
        "The visit was changed from another terminal at the same time. Read it again and resend.";
    PreconditionFailed => "precondition_failed", PRECONDITION_FAILED,
        "別の端末で変更されています", "Changed since it was read",
        "If-Match に入れた ETag の後に、来庁が別の端末で変更されました。何も変更していません。応答の ETag(etag)が今の版です。来庁を読み直し、変更を確かめてから、その ETag を If-Match に入れて送り直してください。",
        "The visit changed after the ETag sent in If-Match: nothing was changed. The response's ETag (etag) is the current one. Read the visit again, check the change, and resend with that ETag in If-Match.";
    VisitConfirmed => "visit_confirmed", CONFLICT,
        "署名済みのため変更できません", "Visit already confirmed",
        "住民が下書きを確認・署名した後は、回答や下書きを変更できません。",
        "After the resident has confirmed and signed the drafts, answers and drafts cannot change.";
    VisitNotConfirmed => "visit_not_confirmed", CONFLICT,
        "まだ確認・署名されていません", "Visit not confirmed",
        "申請する前に、住民が下書きを確認して署名する必要があります(POST …/confirm)。",
        "The resident must confirm and sign the drafts before the visit is submitted (POST …/confirm).";
    VisitSubmitted => "visit_submitted", CONFLICT,
        "既に申請済みです", "Visit already submitted",
        "この来庁は既に申請されています。申請の一覧は GET …/applications で確認できます。",
        "The visit has been submitted already. GET …/applications lists its applications.";
    EnrolmentCodeRejected => "enrolment_code_rejected", FORBIDDEN,
        "登録コードが使えません", "Enrolment code rejected",
        "窓口端末の登録コードが違うか、使用済みか、期限(15分)切れか、端末が失効しています。管理者に新しいコードを発行してもらってください。",
        "The counter PC's enrolment code is wrong, used, past its 15 minutes, or the device is revoked. Ask an administrator for a new code.";
    DeviceNotActive => "device_not_active", CONFLICT,
        "窓口端末が使えません", "Device not active",
        "この窓口端末はまだ登録が済んでいないか、失効しています。管理者に端末の状態を確認してもらってください。",
        "The counter PC has not enrolled yet or is revoked. Ask an administrator to check the device.";
    InternalError => "internal_error", INTERNAL_SERVER_ERROR,
        "内部エラーが発生しました", "Internal error",
        "ゲートウェイ内部でエラーが発生しました。requestId を添えて運用担当に連絡してください。",
        "Something failed inside the gateway. Give the requestId to the operators.";
    RequestTimeout => "request_timeout", REQUEST_TIMEOUT,
        "リクエストが時間内に届きませんでした", "Request timeout",
        "リクエスト本文が上限時間内に届きませんでした。通信状態を確認して、本文をまとめて送り直してください。",
        "The request body did not arrive within the time limit. Check the connection and send the whole body again.";
    ServiceUnavailable => "service_unavailable", SERVICE_UNAVAILABLE,
        "一時的に利用できません", "Temporarily unavailable",
        "ゲートウェイまたはその依存先が一時的に応答しません。しばらくしてから再試行してください。",
        "The gateway or something it depends on is not answering. Retry later.";
    HttpError => "http_error", BAD_REQUEST,
        "リクエストを処理できません", "Request cannot be processed",
        "HTTP レベルでリクエストを処理できませんでした。status を確認してください。",
        "The request could not be processed at the HTTP level; see the status.";
}

impl ProblemKind {
    /// `type` member: a relative URI served as a readable page.
    pub fn type_uri(self) -> String {
        format!("/problems/{}", self.code().replace('_', "-"))
    }

    pub fn from_slug(slug: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .copied()
            .find(|k| k.code().replace('_', "-") == slug)
    }
}

/// An error on its way to becoming a problem+json response. Boxed: errors travel through
/// many `Result`s and should stay one pointer wide.
#[derive(Debug, Clone)]
pub struct ApiError(Box<ProblemDetails>);

/// The contents of an [`ApiError`].
#[derive(Debug, Clone)]
pub struct ProblemDetails {
    pub kind: ProblemKind,
    pub status: StatusCode,
    pub detail: Text,
    pub errors: Vec<FieldError>,
    /// Extension members (such as OAuth's `error`).
    pub extensions: Map<String, Value>,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// Logged with the request id, never shown.
    pub internal: Option<String>,
}

impl std::ops::Deref for ApiError {
    type Target = ProblemDetails;
    fn deref(&self) -> &ProblemDetails {
        &self.0
    }
}

impl std::ops::DerefMut for ApiError {
    fn deref_mut(&mut self) -> &mut ProblemDetails {
        &mut self.0
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.kind.code(), self.detail.en)
    }
}

impl ApiError {
    pub fn new(kind: ProblemKind, detail: Text) -> Self {
        Self(Box::new(ProblemDetails {
            kind,
            status: kind.status(),
            detail,
            errors: Vec::new(),
            extensions: Map::new(),
            headers: Vec::new(),
            internal: None,
        }))
    }

    /// An internal error: the caller sees only that something failed and the request id.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        let mut e = Self::new(
            ProblemKind::InternalError,
            Text::new(
                "処理中にエラーが発生しました。requestId を添えて運用担当に連絡してください。",
                "The request failed inside the gateway. Give the requestId to the operators.",
            ),
        );
        e.internal = Some(cause.to_string());
        e
    }

    pub fn validation(errors: Vec<FieldError>) -> Self {
        let n = errors.len();
        let mut e = Self::new(
            ProblemKind::ValidationFailed,
            Text::new(
                format!("入力内容に{n}件の誤りがあります。errors を確認してください。"),
                format!("The request has {n} invalid field(s); see errors."),
            ),
        );
        e.errors = errors;
        e
    }

    pub fn not_found(detail: Text) -> Self {
        Self::new(ProblemKind::NotFound, detail)
    }

    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    pub fn with_header(mut self, name: HeaderName, value: &str) -> Self {
        if let Ok(value) = HeaderValue::from_str(value) {
            self.headers.push((name, value));
        }
        self
    }

    /// Keeps a cause for the log (with the request id), never shown to the caller.
    pub fn with_internal(mut self, cause: impl std::fmt::Display) -> Self {
        self.internal = Some(cause.to_string());
        self
    }

    pub fn with_extension(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.extensions.insert(key.to_owned(), value.into());
        self
    }

    /// The complete response, for the rare answer that no middleware will render (one made
    /// after the request itself is gone).
    pub fn standalone_response(
        &self,
        lang: Lang,
        instance: &str,
        request_id: Option<&str>,
    ) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        for (name, value) in &self.headers {
            response.insert_header((name.clone(), value.clone()));
        }
        if let Some(id) = request_id.and_then(|id| HeaderValue::from_str(id).ok()) {
            response.insert_header((super::middleware::request_id::REQUEST_ID_HEADER, id));
        }
        response
            .insert_header((header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON)))
            .body(self.body(lang, instance, request_id).to_string())
    }

    fn body(&self, lang: Lang, instance: &str, request_id: Option<&str>) -> Value {
        let mut body = Map::new();
        body.insert("type".into(), self.kind.type_uri().into());
        body.insert("title".into(), self.kind.title().get(lang).into());
        body.insert("status".into(), self.status.as_u16().into());
        body.insert("detail".into(), self.detail.get(lang).into());
        body.insert("code".into(), self.kind.code().into());
        body.insert("instance".into(), instance.into());
        if let Some(id) = request_id {
            body.insert("requestId".into(), id.into());
        }
        if !self.errors.is_empty() {
            let errors = self
                .errors
                .iter()
                .map(|e| {
                    serde_json::json!({
                        "pointer": e.pointer,
                        "code": e.code,
                        "message": e.message.get(lang),
                    })
                })
                .collect();
            body.insert("errors".into(), Value::Array(errors));
        }
        for (k, v) in &self.extensions {
            body.entry(k.clone()).or_insert_with(|| v.clone());
        }
        Value::Object(body)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    /// The body is written by [`ProblemRenderer`], which knows the request.
    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        for (name, value) in &self.headers {
            response.insert_header((name.clone(), value.clone()));
        }
        let mut response = response.finish();
        response.extensions_mut().insert(self.clone());
        response
    }
}

/// The language the caller asked for with `Accept-Language`: English when it ranks `en`
/// above `ja`, Japanese otherwise.
pub fn negotiate_lang(req: &HttpRequest) -> Lang {
    use actix_web::http::header::{AcceptLanguage, Header, Preference};
    let Ok(accept) = AcceptLanguage::parse(req) else {
        return Lang::Ja;
    };
    for pref in accept.ranked() {
        if let Preference::Specific(tag) = pref {
            match tag.primary_language() {
                "ja" => return Lang::Ja,
                "en" => return Lang::En,
                _ => {}
            }
        }
    }
    Lang::Ja
}

/// A generic problem for an error response that did not come from an [`ApiError`] (actix's
/// own errors), so that no caller ever gets a plain-text error.
fn generic_problem(status: StatusCode) -> ApiError {
    let kind = match status {
        StatusCode::NOT_FOUND => ProblemKind::RouteNotFound,
        StatusCode::METHOD_NOT_ALLOWED => ProblemKind::MethodNotAllowed,
        StatusCode::PAYLOAD_TOO_LARGE => ProblemKind::PayloadTooLarge,
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ProblemKind::UnsupportedMediaType,
        s if s.is_server_error() => ProblemKind::InternalError,
        _ => ProblemKind::HttpError,
    };
    let reason = status.canonical_reason().unwrap_or("error");
    ApiError::new(
        kind,
        Text::new(
            format!("HTTP {} ({reason})", status.as_u16()),
            format!("HTTP {} ({reason})", status.as_u16()),
        ),
    )
    .with_status(status)
}

/// Renders every error response as problem+json.
pub struct ProblemRenderer;

impl<S, B> Transform<S, ServiceRequest> for ProblemRenderer
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<BoxBody>;
    type Error = actix_web::Error;
    type Transform = ProblemRendererService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(ProblemRendererService {
            service: Rc::new(service),
        }))
    }
}

pub struct ProblemRendererService<S> {
    service: Rc<S>,
}

impl<S, B> Service<ServiceRequest> for ProblemRendererService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<BoxBody>;
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self::Response, Self::Error>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        // Handlers' and extractors' errors arrive as responses (actix turns them into
        // responses that keep the error); only middleware errors arrive as `Err`, and those
        // actix renders through `ResponseError` itself.
        let service = self.service.clone();
        Box::pin(async move {
            let response = service.call(req).await?;
            Ok(render(response.map_into_boxed_body()))
        })
    }
}

fn render(response: ServiceResponse<BoxBody>) -> ServiceResponse<BoxBody> {
    let status = response.status();
    let problem = response.response().extensions().get::<ApiError>().cloned();
    let problem = match problem {
        Some(p) => p,
        None if status.is_client_error() || status.is_server_error() => {
            let already = response
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|ct| ct.starts_with(PROBLEM_JSON));
            // The console answers its refusals with pages of its own.
            let console_page = response.request().path().starts_with("/counter")
                && response
                    .headers()
                    .get(header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|ct| ct.starts_with("text/html"));
            if already || console_page {
                return response;
            }
            generic_problem(status)
        }
        None => return response,
    };
    let (req, mut res) = response.into_parts();
    let request_id = req.extensions().get::<RequestId>().map(|r| r.0.clone());
    // Only the code goes to the log: details may quote what the caller sent.
    let logged_id = request_id.as_deref().unwrap_or("-");
    match &problem.internal {
        Some(internal) => tracing::error!(
            request_id = logged_id,
            code = problem.kind.code(),
            error = %internal,
            "internal error"
        ),
        None => tracing::debug!(
            request_id = logged_id,
            code = problem.kind.code(),
            status = problem.status.as_u16(),
            "request answered with a problem"
        ),
    }
    let body = problem.body(negotiate_lang(&req), req.path(), request_id.as_deref());
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    let res = res.set_body(BoxBody::new(body.to_string()));
    ServiceResponse::new(req, res)
}

/// The problem+json shape, for the OpenAPI document.
#[derive(Serialize, ToSchema)]
#[schema(as = Problem)]
#[serde(rename_all = "camelCase")]
pub struct ProblemDoc {
    /// Relative URI of the problem type; GET it for a readable explanation.
    #[schema(example = "/problems/validation-failed")]
    pub r#type: String,
    /// Short summary of the problem type, in the negotiated language.
    pub title: String,
    pub status: u16,
    /// What went wrong in this occurrence and how to fix it.
    pub detail: String,
    /// Stable snake_case code for programs.
    #[schema(example = "validation_failed")]
    pub code: String,
    /// The request path.
    pub instance: String,
    /// Quote it when reporting the problem; it is in the gateway's logs.
    pub request_id: Option<String>,
    /// Every invalid field, for `validation_failed`.
    pub errors: Option<Vec<FieldErrorDoc>>,
}

#[derive(Serialize, ToSchema)]
#[schema(as = FieldError)]
pub struct FieldErrorDoc {
    /// JSON pointer (RFC 6901) to the field in the request body.
    #[schema(example = "/municipalities/0")]
    pub pointer: String,
    #[schema(example = "invalid_lg_code")]
    pub code: String,
    /// Names the field and says how to fix it, in the negotiated language.
    pub message: String,
}

/// `/problems/`: every problem type with its code, status and meaning, linking each page.
pub fn problem_index() -> String {
    fn escape(s: &str) -> String {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    }
    let rows: String = ProblemKind::ALL
        .iter()
        .map(|kind| {
            let title = kind.title();
            let about = kind.about();
            format!(
                "<tr><td><a href=\"{uri}\"><code>{code}</code></a></td><td>{status}</td><td>{ja}<br><span lang=\"en\">{en}</span></td><td>{about_ja}<br><span lang=\"en\">{about_en}</span></td></tr>\n",
                uri = kind.type_uri(),
                code = kind.code(),
                status = kind.status().as_u16(),
                ja = escape(&title.ja),
                en = escape(&title.en),
                about_ja = escape(&about.ja),
                about_en = escape(&about.en),
            )
        })
        .collect();
    let fields: String = crate::field_codes::all()
        .iter()
        .map(|(code, c)| {
            let kind = c
                .kinds
                .iter()
                .map(|k| k.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            format!(
                "<tr id=\"field-{code}\"><td><code>{code}</code></td><td>{kind}</td><td>{ja}<br><span lang=\"en\">{en}</span></td></tr>\n",
                ja = escape(&c.ja),
                en = escape(&c.en),
            )
        })
        .collect();
    format!(
        "<!DOCTYPE html>\n<html lang=\"ja\"><head><meta charset=\"utf-8\"><title>問題の種類 / Problem types</title></head>\n<body>\n<h1>問題の種類 / Problem types</h1>\n<p>エラーの応答は RFC 9457 の application/problem+json です。type はこの一覧の各ページ、code は次の表の値です。Accept: application/json で同じ内容を JSON で返します。 / Every error answer is RFC 9457 application/problem+json; its type is one of these pages and its code one of these values. With Accept: application/json this list comes as JSON.</p>\n<table>\n<tr><th>code</th><th>HTTP</th><th>title</th><th>meaning</th></tr>\n{rows}</table>\n<h2>項目のコード / Field codes</h2>\n<p>errors[] の各項目(と正規化の警告・注記)の code です。kind: request = リクエスト本文の項目、form = 標準様式の項目、normalize = 標準形に直せない値、note = 正規化で直した箇所(確認用、エラーではありません)。 / The code of each entry of errors[] (and of a normalization's warnings and notes).</p>\n<table>\n<tr><th>code</th><th>kind</th><th>meaning</th></tr>\n{fields}</table>\n</body></html>\n"
    )
}

/// `/problems/{type}`: a page that explains one problem type in both languages.
pub fn problem_page(kind: ProblemKind) -> String {
    fn escape(s: &str) -> String {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    }
    let title = kind.title();
    let about = kind.about();
    format!(
        "<!DOCTYPE html>\n<html lang=\"ja\"><head><meta charset=\"utf-8\"><title>{ja} / {en}</title></head>\n<body>\n<h1>{ja}</h1>\n<p>{about_ja}</p>\n<h2 lang=\"en\">{en}</h2>\n<p lang=\"en\">{about_en}</p>\n<dl><dt>code</dt><dd><code>{code}</code></dd><dt>HTTP status</dt><dd>{status}</dd></dl>\n</body></html>\n",
        ja = escape(&title.ja),
        en = escape(&title.en),
        about_ja = escape(&about.ja),
        about_en = escape(&about.en),
        code = kind.code(),
        status = kind.status().as_u16(),
    )
}
