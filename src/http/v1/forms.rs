//! `/v1/forms` and `/v1/normalize`: the standard form schemas, and normalizing and validating
//! form data (a whole document, or one field as the clerk types it).

use actix_web::{HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use crate::forms::normalize::{self, Kind, Located};
use crate::forms::{Dialect, DialectLookup, Form, FormError, FormRegistry, Lookup, Processed};
use crate::http::auth::{Authorized, scopes};
use crate::http::extract::ApiJson;
use crate::http::problem::{ApiError, ProblemDoc, ProblemKind};
use crate::http::state::AppState;
use crate::i18n::{Lang, Text};
use crate::validation::FieldError;

/// A form and its versions.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FormSummary {
    #[schema(example = "residentMove")]
    pub id: String,
    /// The Japanese name of the newest version.
    #[schema(example = "住民異動届")]
    pub title: String,
    #[schema(example = json!(["1.0"]))]
    pub versions: Vec<String>,
    #[schema(example = "1.0")]
    pub latest_version: String,
}

/// A vendor dialect: a mapping from a legacy layout to standard forms.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DialectSummary {
    #[schema(example = "legacy-counter-v2")]
    pub name: String,
    pub title: String,
    /// The forms it maps to, as `formId@version`.
    pub forms: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FormList {
    pub items: Vec<FormSummary>,
    pub dialects: Vec<DialectSummary>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FormVersion {
    #[schema(example = "1.0")]
    pub version: String,
    pub title: String,
    pub description: Option<String>,
    /// The schema's `$id`.
    pub schema_id: String,
    /// Where to GET the schema.
    #[schema(example = "/v1/forms/residentMove/1.0/schema")]
    pub schema_url: String,
    /// The name of the schema in this document's `components.schemas`.
    #[schema(example = "form.residentMove.1.0")]
    pub component: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FormDetail {
    pub id: String,
    pub title: String,
    pub versions: Vec<FormVersion>,
}

/// One value the normalizer changed. `from` and `to` are null for a 個人番号.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChangeDto {
    #[schema(example = "/notificationDate")]
    pub pointer: String,
    /// The value as sent: any JSON value (a string, usually); null for a 個人番号.
    #[schema(schema_with = any_json, example = "令和8年4月3日")]
    pub from: Option<Value>,
    /// The value in standard form: any JSON value (an object for an approximate registry
    /// date, nothing when an empty optional field was removed); null for a 個人番号.
    #[schema(schema_with = any_json, example = "2026-04-03")]
    pub to: Option<Value>,
    #[schema(example = "date.wareki")]
    pub rule: String,
}

/// A warning or a normalization error at one place of the document.
#[derive(Debug, Serialize, ToSchema)]
pub struct IssueDto {
    #[schema(example = "/moveDate")]
    pub pointer: String,
    #[schema(example = "date_era_overflow")]
    pub code: String,
    pub message: String,
    /// The value that would be right, where there is one.
    #[schema(example = "令和元年5月1日")]
    pub suggestion: Option<String>,
}

/// One thing wrong with the document.
#[derive(Debug, Serialize, ToSchema)]
pub struct FormErrorDto {
    #[schema(example = "/members/0/familyNameKana")]
    pub pointer: String,
    /// The JSON Schema keyword that failed (`x-normalize` when the normalizer could not read the value).
    #[schema(example = "pattern")]
    pub keyword: String,
    /// Stable snake_case code.
    #[schema(example = "not_katakana")]
    pub code: String,
    /// Names the field by its label, in the negotiated language.
    #[schema(example = "「氏(フリガナ)」は全角カタカナで入力してください。")]
    pub message: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NormalizeResult {
    /// The document in standard form.
    #[schema(value_type = Object)]
    pub document: Value,
    pub changes: Vec<ChangeDto>,
    pub warnings: Vec<IssueDto>,
    /// Values the normalizer could not read; they are left as they were.
    pub errors: Vec<IssueDto>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ValidateResult {
    pub valid: bool,
    #[schema(value_type = Object)]
    pub document: Value,
    pub changes: Vec<ChangeDto>,
    pub warnings: Vec<IssueDto>,
    pub errors: Vec<FormErrorDto>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DialectQuery {
    /// A vendor dialect (`schemas/dialects/<name>.json`) the body is written in; GET
    /// /v1/forms lists them. Leave it out for a document in the standard layout.
    pub dialect: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FieldInput {
    /// The value as the clerk typed it.
    #[schema(example = "平成31年5月1日")]
    pub value: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FieldWarningDto {
    pub code: String,
    pub message: String,
    pub suggestion: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FieldResult {
    /// The value in standard form: a string, or for an approximate `registryDate` an object
    /// (`common.date.approximateDate`).
    #[schema(schema_with = field_value, example = "2019-05-01")]
    pub value: Value,
    pub changed: bool,
    #[schema(example = "date.wareki")]
    pub rule: String,
    pub warnings: Vec<FieldWarningDto>,
}

/// Any JSON value (OpenAPI 3.1's empty schema).
pub(crate) fn any_json() -> utoipa::openapi::schema::Object {
    utoipa::openapi::schema::Object::with_type(utoipa::openapi::schema::SchemaType::AnyValue)
}

/// A normalized field: a string, or an approximate registry date.
fn field_value() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Ref, Schema, Type};
    Schema::OneOf(
        OneOfBuilder::new()
            .item(ObjectBuilder::new().schema_type(Type::String))
            .item(Ref::new("#/components/schemas/common.date.approximateDate"))
            .build(),
    )
}

fn component_name(form: &Form) -> String {
    format!("form.{}.{}", form.id, form.version)
}

fn lookup_problem(id: &str, version: Option<&str>, lookup: Lookup) -> ApiError {
    let problem = ApiError::new(ProblemKind::FormNotFound, lookup.text(id, version));
    match lookup {
        Lookup::UnknownForm { known } => problem.with_extension("forms", known),
        Lookup::UnknownVersion { versions } => problem.with_extension("versions", versions),
    }
}

fn find_form<'a>(forms: &'a FormRegistry, id: &str, version: &str) -> Result<&'a Form, ApiError> {
    forms
        .form(id, Some(version))
        .map_err(|l| lookup_problem(id, Some(version), l))
}

/// The form named in the path and the dialect named in the query, for normalize and validate.
fn form_and_dialect<'a>(
    forms: &'a FormRegistry,
    (id, version): &(String, String),
    dialect: Option<&str>,
) -> Result<(&'a Form, Option<&'a Dialect>), ApiError> {
    let form = find_form(forms, id, version)?;
    let Some(name) = dialect else {
        return Ok((form, None));
    };
    let dialect = forms.dialect_for(name, form).map_err(|lookup| {
        let problem = ApiError::new(ProblemKind::UnknownDialect, lookup.text(name, form));
        match lookup {
            DialectLookup::UnknownDialect { known } => problem.with_extension("dialects", known),
            DialectLookup::UnsupportedForm { targets } => problem.with_extension("forms", targets),
        }
    })?;
    Ok((form, Some(dialect)))
}

fn changes(processed: &Processed) -> Vec<ChangeDto> {
    processed
        .report
        .changes
        .iter()
        .map(|c| ChangeDto {
            pointer: c.pointer.clone(),
            from: c.from.clone(),
            to: c.to.clone(),
            rule: c.rule.to_owned(),
        })
        .collect()
}

pub(crate) fn issues(form: &Form, located: &[Located], lang: Lang) -> Vec<IssueDto> {
    located
        .iter()
        .map(|l| IssueDto {
            pointer: l.pointer.clone(),
            code: l.issue.code.to_owned(),
            message: form
                .label_message(&l.pointer, &l.issue.message)
                .get(lang)
                .to_owned(),
            suggestion: l.issue.suggestion.clone(),
        })
        .collect()
}

pub(crate) fn form_errors(errors: &[FormError], lang: Lang) -> Vec<FormErrorDto> {
    errors
        .iter()
        .map(|e| FormErrorDto {
            pointer: e.pointer.clone(),
            keyword: e.keyword.clone(),
            code: e.code.clone(),
            message: e.message.get(lang).to_owned(),
        })
        .collect()
}

/// The standard forms, with their versions, and the vendor dialects.
#[utoipa::path(
    tag = "forms",
    responses(
        (status = 200, description = "Every form and dialect", body = FormList),
        (status = 403, description = "Scope forms missing", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("oauth2" = ["forms"]))
)]
#[get("/forms")]
pub async fn list_forms(
    _auth: Authorized<scopes::Forms>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let forms = &state.forms;
    let items = forms
        .form_ids()
        .into_iter()
        .filter_map(|id| {
            let versions = forms.versions(&id).ok()?;
            let latest = versions.last()?;
            Some(FormSummary {
                title: latest.title.clone(),
                latest_version: latest.version.clone(),
                versions: versions.iter().map(|f| f.version.clone()).collect(),
                id,
            })
        })
        .collect();
    let dialects = forms
        .dialects()
        .map(|d| DialectSummary {
            name: d.name.clone(),
            title: d.title.clone(),
            forms: d.targets().map(|(i, v)| format!("{i}@{v}")).collect(),
        })
        .collect();
    HttpResponse::Ok().json(FormList { items, dialects })
}

/// One form's versions.
#[utoipa::path(
    tag = "forms",
    params(("formId" = String, Path, description = "Form id", example = "residentMove")),
    responses(
        (status = 200, description = "The form's versions, oldest first", body = FormDetail),
        (status = 403, description = "Scope forms missing", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such form; `forms` lists those that exist", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("oauth2" = ["forms"]))
)]
#[get("/forms/{formId}")]
pub async fn get_form(
    _auth: Authorized<scopes::Forms>,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let versions = state
        .forms
        .versions(&id)
        .map_err(|l| lookup_problem(&id, None, l))?;
    let title = versions.last().map(|f| f.title.clone()).unwrap_or_default();
    let versions = versions
        .iter()
        .map(|f| FormVersion {
            version: f.version.clone(),
            title: f.title.clone(),
            description: f.description.clone(),
            schema_id: f.uri.clone(),
            schema_url: format!("/v1/forms/{}/{}/schema", f.id, f.version),
            component: component_name(f),
        })
        .collect();
    Ok(HttpResponse::Ok().json(FormDetail {
        id,
        title,
        versions,
    }))
}

/// The JSON Schema (2020-12) of one form version, as the gateway validates with it, as one
/// self-contained document: the common schemas it uses are embedded in `$defs` under their
/// `$id`s, so a validator compiles it offline with nothing else loaded.
#[utoipa::path(
    tag = "forms",
    params(
        ("formId" = String, Path, description = "Form id", example = "residentMove"),
        ("version" = String, Path, description = "Form version", example = "1.0"),
    ),
    responses(
        (status = 200, description = "The schema", body = Object, content_type = "application/schema+json"),
        (status = 403, description = "Scope forms missing", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such form or version", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("oauth2" = ["forms"]))
)]
#[get("/forms/{formId}/{version}/schema")]
pub async fn get_form_schema(
    _auth: Authorized<scopes::Forms>,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, version) = path.into_inner();
    let form = find_form(&state.forms, &id, &version)?;
    Ok(HttpResponse::Ok()
        .content_type("application/schema+json")
        .json(state.forms.bundle(form)))
}

fn document(body: Value) -> Result<Value, ApiError> {
    if body.is_object() {
        Ok(body)
    } else {
        Err(ApiError::validation(vec![FieldError::new(
            "",
            "invalid_type",
            Text::new(
                "様式のデータは JSON オブジェクトで送ってください。",
                "Send the form data as a JSON object.",
            ),
        )]))
    }
}

/// Brings a form document to standard form: 和暦 → ISO dates, kana, widths, postal codes,
/// phone numbers, 番地. Names are never changed.
#[utoipa::path(
    tag = "forms",
    params(
        ("formId" = String, Path, description = "Form id", example = "residentMove"),
        ("version" = String, Path, description = "Form version", example = "1.0"),
        DialectQuery,
    ),
    request_body(content = Object, description = "A document of the form (its schema: GET /v1/forms/{formId}/{version}/schema, or components.schemas `form.<id>.<version>`), or in the named dialect's layout", content_type = "application/json"),
    responses(
        (status = 200, description = "The normalized document, every change, warnings and values that could not be read", body = NormalizeResult),
        (status = 400, description = "Malformed JSON, or an unknown dialect", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Scope forms missing", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such form or version", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 422, description = "The body is not a JSON object", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("oauth2" = ["forms"]))
)]
#[post("/forms/{formId}/{version}/normalize")]
pub async fn normalize_form(
    _auth: Authorized<scopes::Forms>,
    lang: Lang,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    query: web::Query<DialectQuery>,
    body: ApiJson<Value>,
) -> Result<HttpResponse, ApiError> {
    let (form, dialect) = form_and_dialect(&state.forms, &path, query.dialect.as_deref())?;
    let processed = state.forms.normalize(form, document(body.0)?, dialect);
    Ok(HttpResponse::Ok().json(NormalizeResult {
        changes: changes(&processed),
        warnings: issues(form, &processed.report.warnings, lang),
        errors: issues(form, &processed.report.errors, lang),
        document: processed.document,
    }))
}

/// Normalizes, then validates against the form's schema. Answers 200 for every well-formed
/// request: `valid` says whether the document may be submitted, and `errors` lists every
/// problem at once.
#[utoipa::path(
    tag = "forms",
    params(
        ("formId" = String, Path, description = "Form id", example = "residentMove"),
        ("version" = String, Path, description = "Form version", example = "1.0"),
        DialectQuery,
    ),
    request_body(content = Object, description = "A document of the form, or in the named dialect's layout", content_type = "application/json"),
    responses(
        (status = 200, description = "Whether the document is valid, the normalized document and every error", body = ValidateResult),
        (status = 400, description = "Malformed JSON, or an unknown dialect", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Scope forms missing", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such form or version", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 422, description = "The body is not a JSON object", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("oauth2" = ["forms"]))
)]
#[post("/forms/{formId}/{version}/validate")]
pub async fn validate_form(
    _auth: Authorized<scopes::Forms>,
    lang: Lang,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    query: web::Query<DialectQuery>,
    body: ApiJson<Value>,
) -> Result<HttpResponse, ApiError> {
    let (form, dialect) = form_and_dialect(&state.forms, &path, query.dialect.as_deref())?;
    let processed = state.forms.validate(form, document(body.0)?, dialect);
    Ok(HttpResponse::Ok().json(ValidateResult {
        valid: processed.valid(),
        changes: changes(&processed),
        warnings: issues(form, &processed.report.warnings, lang),
        errors: form_errors(&processed.errors, lang),
        document: processed.document,
    }))
}

/// Normalizes one field as the clerk types it: `date` (exact day), `registryDate` (may be
/// approximate), `kana`, `postalCode`, `phone`, `cityBlock`, `lgCode`, `myNumber`, `digits`.
#[utoipa::path(
    tag = "forms",
    params(("kind" = String, Path, description = "What the value is", example = "date")),
    request_body(content = FieldInput, content_type = "application/json"),
    responses(
        (status = 200, description = "The value in standard form", body = FieldResult),
        (status = 403, description = "Scope forms missing", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "Unknown kind; `kinds` lists those that exist", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 422, description = "The value cannot be normalized: errors[] says why, `suggestion` gives the right value where there is one", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("oauth2" = ["forms"]))
)]
#[post("/normalize/{kind}")]
pub async fn normalize_field(
    _auth: Authorized<scopes::Forms>,
    lang: Lang,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: ApiJson<FieldInput>,
) -> Result<HttpResponse, ApiError> {
    let name = path.into_inner();
    let kind = Kind::parse(&name).ok_or_else(|| {
        let kinds: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
        ApiError::new(
            ProblemKind::UnknownNormalizeKind,
            Text::new(
                format!(
                    "正規化の種類「{name}」はありません。使える種類: {}",
                    kinds.join(", ")
                ),
                format!("There is no kind {name}. Kinds: {}", kinds.join(", ")),
            ),
        )
        .with_extension("kinds", kinds.clone())
    })?;
    let input = body.0.value;
    match normalize::field(kind, &input, &state.forms.eras) {
        Ok(outcome) => Ok(HttpResponse::Ok().json(FieldResult {
            changed: outcome.value.as_str() != Some(input.as_str()),
            value: outcome.value,
            rule: outcome.rule.to_owned(),
            warnings: outcome
                .warnings
                .into_iter()
                .map(|w| FieldWarningDto {
                    code: w.code.to_owned(),
                    message: w.message.get(lang).to_owned(),
                    suggestion: w.suggestion,
                })
                .collect(),
        })),
        Err(issue) => {
            let mut problem =
                ApiError::new(ProblemKind::NormalizationFailed, issue.message.clone());
            problem.errors = vec![FieldError::new("/value", issue.code, issue.message)];
            if let Some(s) = issue.suggestion {
                problem = problem.with_extension("suggestion", s);
            }
            Err(problem)
        }
    }
}
