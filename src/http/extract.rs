//! Request extractors and the error handlers that make actix's own extractors answer with
//! problem+json instead of plain text.

use actix_web::dev::Payload;
use actix_web::error::{
    JsonPayloadError, PathError, PayloadError, QueryPayloadError, UrlencodedError,
};
use actix_web::web::Bytes;
use actix_web::{FromRequest, HttpMessage, HttpRequest};
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;

use super::problem::{ApiError, ProblemKind};
use crate::i18n::Text;
use crate::validation::{FieldError, push_pointer_token};

/// A JSON request body. Unlike `web::Json` it reports where in the body a value is wrong
/// (a JSON pointer) and answers every failure with a problem. `LIMIT`, when not 0, is the
/// route's own body limit in bytes, below the server's `http.body_limit_bytes` (a visit's
/// body is far smaller than a directory upload's).
#[derive(Debug)]
pub struct ApiJson<T, const LIMIT: usize = 0>(pub T);

fn is_json(req: &HttpRequest) -> bool {
    match req.mime_type() {
        Ok(Some(mime)) => mime.subtype() == "json" || mime.suffix().is_some_and(|s| s == "json"),
        _ => false,
    }
}

/// Turns a body-reading failure into a problem (413 for the size limit).
pub fn payload_problem(err: &PayloadError, limit: usize) -> ApiError {
    match err {
        PayloadError::Overflow => too_large(limit),
        e if super::middleware::deadline::is_body_timeout(e) => {
            super::middleware::deadline::body_timeout()
        }
        other => ApiError::new(
            ProblemKind::InvalidRequest,
            Text::new(
                format!("リクエスト本文を読めませんでした: {other}"),
                format!("The request body could not be read: {other}"),
            ),
        ),
    }
}

pub fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        ProblemKind::PayloadTooLarge,
        Text::new(
            format!("リクエスト本文は{limit}バイト以内にしてください。"),
            format!("The request body must be at most {limit} bytes."),
        ),
    )
}

fn unsupported_media_type(expected: &str) -> ApiError {
    ApiError::new(
        ProblemKind::UnsupportedMediaType,
        Text::new(
            format!("Content-Type は {expected} にしてください。"),
            format!("Send the body with Content-Type: {expected}."),
        ),
    )
}

/// The configured body limit (`http.body_limit_bytes`), registered as app data next to the
/// `PayloadConfig` that enforces it (which does not expose its limit).
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

pub(crate) fn body_limit(req: &HttpRequest) -> usize {
    req.app_data::<BodyLimit>().map_or(262_144, |l| l.0)
}

/// A JSON pointer for the place serde_path_to_error reports.
fn pointer(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => push_pointer_token(&mut out, &index.to_string()),
            Segment::Map { key } | Segment::Enum { variant: key } => {
                push_pointer_token(&mut out, key)
            }
            Segment::Unknown => push_pointer_token(&mut out, "-"),
        }
    }
    out
}

/// The name inside the first pair of backticks of a serde message (``missing field `name` ``).
fn quoted(message: &str) -> Option<&str> {
    let start = message.find('`')? + 1;
    let len = message[start..].find('`')?;
    Some(&message[start..start + len])
}

fn syntax_problem(inner: &serde_json::Error) -> ApiError {
    let (line, column) = (inner.line(), inner.column());
    ApiError::new(
        ProblemKind::MalformedJson,
        Text::new(
            format!("JSON の構文が正しくありません({line}行{column}列目): {inner}"),
            format!("Malformed JSON at line {line}, column {column}: {inner}"),
        ),
    )
    .with_extension("line", line)
    .with_extension("column", column)
}

fn json_problem(err: serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let at = pointer(err.path());
    let inner = err.into_inner();
    if !inner.is_data() {
        return syntax_problem(&inner);
    }
    let message = inner.to_string();
    let message = message
        .split(" at line ")
        .next()
        .unwrap_or(&message)
        .to_owned();
    let error = if message.starts_with("missing field") {
        let field = quoted(&message).unwrap_or("?");
        FieldError::new(
            format!("{at}/{field}"),
            "required",
            Text::new(
                format!("必須項目「{field}」がありません。"),
                format!("The required field {field} is missing."),
            ),
        )
    } else if message.starts_with("unknown field") {
        let field = quoted(&message).unwrap_or("?");
        FieldError::new(
            at,
            "unknown_field",
            Text::new(
                format!("項目「{field}」はこの API にありません: {message}"),
                format!("There is no field {field} here: {message}"),
            ),
        )
    } else {
        FieldError::new(
            at,
            "invalid_type",
            Text::new(
                format!("値の型または形式が正しくありません: {message}"),
                format!("Wrong type or format: {message}"),
            ),
        )
    };
    ApiError::validation(vec![error])
}

/// A JSON object, and never an array: serde's derived structs also accept a sequence of
/// their fields in order (`["北見市", null]`), which no request of this API means. The object
/// is handed to `T` as it is read, so errors inside keep their path.
#[derive(Debug)]
pub struct JsonObject<T>(pub T);

impl<'de, T: serde::Deserialize<'de>> serde::Deserialize<'de> for JsonObject<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor<T>(std::marker::PhantomData<T>);
        impl<'de, T: serde::Deserialize<'de>> serde::de::Visitor<'de> for ObjectVisitor<T> {
            type Value = T;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(serde::de::value::MapAccessDeserializer::new(map))
            }
        }
        deserializer
            .deserialize_map(ObjectVisitor(std::marker::PhantomData))
            .map(JsonObject)
    }
}

/// For `#[serde(deserialize_with)]` on an optional field that, when present, must be a JSON
/// object and not `null`.
pub fn present_object<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    <JsonObject<T> as serde::Deserialize>::deserialize(deserializer).map(|o| Some(o.0))
}

/// Parses a JSON document, which must be an object; used by [`ApiJson`] and by tests of the
/// error mapping.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: JsonObject<T> = serde_path_to_error::deserialize(&mut de).map_err(json_problem)?;
    de.end().map_err(|e| syntax_problem(&e))?;
    Ok(value.0)
}

impl<T: DeserializeOwned + 'static, const LIMIT: usize> FromRequest for ApiJson<T, LIMIT> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let json = is_json(req);
        let limit = match LIMIT {
            0 => body_limit(req),
            route => route.min(body_limit(req)),
        };
        let body = Bytes::from_request(req, payload);
        // Authorization first: a caller the route refuses learns nothing from its body's
        // faults, and the refusal is audited (see `AuthGate`).
        let gate = AuthGate::of(req);
        Box::pin(async move {
            if let Some(gate) = gate {
                gate.passed().await;
            }
            if !json {
                return Err(unsupported_media_type("application/json"));
            }
            let bytes = body.await.map_err(|e| match e.as_error::<PayloadError>() {
                Some(p) => payload_problem(p, limit),
                None => too_large(limit),
            })?;
            if bytes.len() > limit {
                return Err(too_large(limit));
            }
            parse_json(&bytes).map(ApiJson)
        })
    }
}

/// Holds a body extractor back until the request's [`super::auth::Authorized`] extractor has
/// passed. actix polls a handler's extractors side by side, so without it a malformed body
/// to another municipality was answered 400/415/422 — and never audited — where the caller
/// should get 403. `Authorized` opens the gate when it succeeds; when it fails, actix answers
/// its error and drops the waiting body extractor.
#[derive(Clone, Default)]
pub struct AuthGate(std::rc::Rc<AuthGateInner>);

#[derive(Default)]
pub struct AuthGateInner {
    open: std::cell::Cell<bool>,
    notify: tokio::sync::Notify,
}

impl AuthGate {
    /// Installs a closed gate on the request (called by `Authorized` before it checks).
    pub fn install(req: &HttpRequest) -> Self {
        let gate = Self::default();
        req.extensions_mut().insert(gate.clone());
        gate
    }

    /// The request's gate, when an `Authorized` extractor comes before this one.
    pub fn of(req: &HttpRequest) -> Option<Self> {
        req.extensions().get::<Self>().cloned()
    }

    pub fn open(&self) {
        self.0.open.set(true);
        self.0.notify.notify_waiters();
    }

    pub async fn passed(&self) {
        while !self.0.open.get() {
            let notified = self.0.notify.notified();
            if self.0.open.get() {
                break;
            }
            notified.await;
        }
    }
}

/// For handlers that use `web::Json` rather than [`ApiJson`]: the same problems, without the
/// pointer (actix has already lost the path by the time it reports).
pub fn json_error(err: JsonPayloadError, req: &HttpRequest) -> actix_web::Error {
    let limit = body_limit(req);
    match err {
        JsonPayloadError::ContentType => unsupported_media_type("application/json").into(),
        JsonPayloadError::Overflow { .. } | JsonPayloadError::OverflowKnownLength { .. } => {
            too_large(limit).into()
        }
        JsonPayloadError::Deserialize(e) if !e.is_data() => syntax_problem(&e).into(),
        JsonPayloadError::Deserialize(e) => ApiError::validation(vec![FieldError::new(
            "",
            "invalid_type",
            Text::new(
                format!("値の型または形式が正しくありません: {e}"),
                format!("Wrong type or format: {e}"),
            ),
        )])
        .into(),
        JsonPayloadError::Payload(p) => payload_problem(&p, limit).into(),
        other => ApiError::internal(other).into(),
    }
}

pub fn path_error(err: PathError, _req: &HttpRequest) -> actix_web::Error {
    ApiError::new(
        ProblemKind::InvalidRequest,
        Text::new(
            format!("URL のパスが正しくありません: {err}"),
            format!("The URL path is wrong: {err}"),
        ),
    )
    .into()
}

pub fn query_error(err: QueryPayloadError, _req: &HttpRequest) -> actix_web::Error {
    if err
        .to_string()
        .contains(crate::http::pagination::CURSOR_ERROR)
    {
        return crate::http::pagination::invalid_cursor().into();
    }
    ApiError::new(
        ProblemKind::InvalidRequest,
        Text::new(
            format!("クエリパラメータが正しくありません: {err}"),
            format!("A query parameter is wrong: {err}"),
        ),
    )
    .into()
}

pub fn form_error(err: UrlencodedError, req: &HttpRequest) -> actix_web::Error {
    let limit = body_limit(req);
    match err {
        UrlencodedError::ContentType => {
            unsupported_media_type("application/x-www-form-urlencoded").into()
        }
        UrlencodedError::Overflow { .. } => too_large(limit).into(),
        UrlencodedError::Payload(p) => payload_problem(&p, limit).into(),
        other => ApiError::new(
            ProblemKind::InvalidRequest,
            Text::new(
                format!("フォーム本文が正しくありません: {other}"),
                format!("The form body is wrong: {other}"),
            ),
        )
        .into(),
    }
}

/// The language of the answer, from `Accept-Language` ([`super::problem::negotiate_lang`]), as
/// a handler argument: `lang: Lang` instead of reading the header in each handler.
impl FromRequest for crate::i18n::Lang {
    type Error = actix_web::Error;
    type Future = std::future::Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(Ok(super::problem::negotiate_lang(req)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Doc {
        name: String,
        items: Vec<Item>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Item {
        count: u32,
    }

    #[test]
    fn syntax_errors_say_where() {
        let err = parse_json::<Doc>(b"{\n  \"name\": \"a\",\n  oops\n}").unwrap_err();
        assert_eq!(err.kind, ProblemKind::MalformedJson);
        assert!(err.detail.ja.contains("3行"), "{}", err.detail.ja);
        assert_eq!(err.extensions["line"], 3);
    }

    #[test]
    fn data_errors_carry_a_pointer() {
        let err =
            parse_json::<Doc>(br#"{"name":"a","items":[{"count":1},{"count":"x"}]}"#).unwrap_err();
        assert_eq!(err.kind, ProblemKind::ValidationFailed);
        assert_eq!(err.errors[0].pointer, "/items/1/count");
        assert_eq!(err.errors[0].code, "invalid_type");

        let err = parse_json::<Doc>(br#"{"items":[]}"#).unwrap_err();
        assert_eq!(err.errors[0].pointer, "/name");
        assert_eq!(err.errors[0].code, "required");

        let err = parse_json::<Doc>(br#"{"name":"a","items":[],"extra":1}"#).unwrap_err();
        assert_eq!(err.errors[0].code, "unknown_field");
    }

    #[test]
    fn web_json_errors_become_problems_too() {
        let req = actix_web::test::TestRequest::default()
            .app_data(BodyLimit(1024))
            .to_http_request();
        let problem = |e: actix_web::Error| {
            e.as_error::<ApiError>()
                .map(|p| (p.kind, p.detail.en.to_string()))
                .unwrap()
        };
        let (kind, _) = problem(json_error(JsonPayloadError::ContentType, &req));
        assert_eq!(kind, ProblemKind::UnsupportedMediaType);
        let (kind, detail) = problem(json_error(JsonPayloadError::Overflow { limit: 1024 }, &req));
        assert_eq!(kind, ProblemKind::PayloadTooLarge);
        assert!(detail.contains("1024"));
        let syntax = serde_json::from_str::<serde_json::Value>("{").unwrap_err();
        let (kind, _) = problem(json_error(JsonPayloadError::Deserialize(syntax), &req));
        assert_eq!(kind, ProblemKind::MalformedJson);
        let data = serde_json::from_str::<u32>("\"x\"").unwrap_err();
        let (kind, _) = problem(json_error(JsonPayloadError::Deserialize(data), &req));
        assert_eq!(kind, ProblemKind::ValidationFailed);
    }

    #[test]
    fn deep_nesting_is_refused_not_a_crash() {
        let deep = format!("{{\"a\": {}{}}}", "[".repeat(10_000), "]".repeat(10_000));
        let err = parse_json::<serde_json::Value>(deep.as_bytes()).unwrap_err();
        assert_eq!(err.kind, ProblemKind::MalformedJson);
    }

    #[test]
    fn a_body_is_an_object_never_an_array_of_fields() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Named {
            name: String,
            inner: Option<Inner>,
        }
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Inner {
            #[serde(default, deserialize_with = "present_object")]
            deeper: Option<Deeper>,
        }
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Deeper {
            x: u8,
        }
        assert!(parse_json::<Named>(br#"{"name": "a"}"#).is_ok());
        let top = parse_json::<Named>(br#"["a", null]"#).unwrap_err();
        assert_eq!(top.kind, ProblemKind::ValidationFailed);
        let nested =
            parse_json::<Named>(br#"{"name": "a", "inner": {"deeper": [1]}}"#).unwrap_err();
        assert_eq!(nested.errors[0].pointer, "/inner/deeper");
        let inside =
            parse_json::<Named>(br#"{"name": "a", "inner": {"deeper": {"x": "no"}}}"#).unwrap_err();
        assert_eq!(
            inside.errors[0].pointer, "/inner/deeper/x",
            "the path inside is kept"
        );
    }
}
