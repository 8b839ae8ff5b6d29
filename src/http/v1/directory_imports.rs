//! `/v1/admin/resident-imports` (scope `admin`): municipal IT sends a 住民記録 full or
//! differential file; the gateway stores the upload as it streams in, checks every row, then
//! applies the file in one transaction in the background. The answer is a job to follow, with
//! progress, and in the end the import or every bad row with its line.

use std::sync::Arc;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::http::auth::{Authorized, scopes};
use crate::http::problem::{ApiError, ProblemDoc, ProblemKind};
use crate::http::state::AppState;
use crate::i18n::{Lang, Text};
use crate::link::import::{
    FileToImport, ImportError, ImportRecord, Importer, Outcome, Phase, Progress,
};
use crate::link::jobs::{Job, JobOutcome};
use crate::residents::file::FileKind;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ImportParams {
    /// The municipality whose directory the file is.
    #[param(example = "012084", pattern = "^[0-9]{6}$")]
    pub lg_code: String,
    /// `full` (全件: replaces the directory) or `diff` (差分: A/U/D rows in order).
    #[param(inline, example = "full")]
    pub kind: KindDto,
    /// The file's name, kept with the import.
    #[param(example = "juki-full-20261203.csv")]
    pub file_name: Option<String>,
}

/// Which file.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = DirectoryFileKind)]
pub enum KindDto {
    Full,
    Diff,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = ImportPhase)]
pub enum PhaseDto {
    Checking,
    Applying,
    Done,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = ImportState)]
pub enum StateDto {
    Running,
    /// The directory is as the file says.
    Applied,
    /// The same file was applied before: nothing changed.
    Unchanged,
    /// Bad rows: nothing applied (see errors).
    Rejected,
    /// Nothing applied, for another reason (see failure).
    Failed,
}

/// A file applied to a directory.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = DirectoryImport)]
pub struct ImportDto {
    pub import_id: String,
    pub lg_code: String,
    /// `full` or `diff`.
    pub kind: String,
    pub file_name: String,
    /// SHA-256 (hex) of the file.
    pub sha256: String,
    pub rows: u64,
    pub added: u64,
    pub changed: u64,
    pub removed: u64,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
}

fn import_dto(r: ImportRecord) -> ImportDto {
    ImportDto {
        import_id: r.id,
        lg_code: r.lg_code,
        kind: r.kind,
        file_name: r.file_name,
        sha256: r.sha256,
        rows: r.rows,
        added: r.added,
        changed: r.changed,
        removed: r.removed,
        started_at: r.started_at,
        finished_at: r.finished_at,
    }
}

/// A problem of the file at a line (1 is the header).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = ImportRowError)]
pub struct RowErrorDto {
    pub line: u64,
    pub column: Option<String>,
    /// In the language asked for (Accept-Language).
    pub message: String,
}

/// An import started through the API, as this replica follows it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = ImportJob)]
pub struct JobDto {
    pub job_id: Uuid,
    pub lg_code: String,
    pub kind: String,
    pub file_name: String,
    /// Bytes received.
    pub bytes: u64,
    pub state: StateDto,
    pub phase: PhaseDto,
    pub rows_done: u64,
    /// Known once every row has been checked.
    pub rows_total: Option<u64>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Applied or unchanged: the import (for unchanged, the earlier one).
    pub import: Option<ImportDto>,
    /// Rejected: every problem (the first 100) with its line.
    pub errors: Vec<RowErrorDto>,
    /// Rejected: problems beyond those listed.
    pub more_errors: u64,
    /// Failed: why.
    pub failure: Option<String>,
}

fn job_dto(job: Job, lang: Lang) -> JobDto {
    let (state, import, errors, more_errors, failure) = match job.outcome {
        None => (StateDto::Running, None, Vec::new(), 0, None),
        Some(JobOutcome::Applied(r)) => {
            (StateDto::Applied, Some(import_dto(r)), Vec::new(), 0, None)
        }
        Some(JobOutcome::Unchanged(r)) => (
            StateDto::Unchanged,
            Some(import_dto(r)),
            Vec::new(),
            0,
            None,
        ),
        Some(JobOutcome::Rejected { errors, more }) => (
            StateDto::Rejected,
            None,
            errors
                .into_iter()
                .map(|e| RowErrorDto {
                    line: e.line,
                    column: e.column,
                    message: e.message.get(lang).to_owned(),
                })
                .collect(),
            more,
            None,
        ),
        Some(JobOutcome::Failed(why)) => (StateDto::Failed, None, Vec::new(), 0, Some(why)),
    };
    JobDto {
        job_id: job.id,
        lg_code: job.lg_code,
        kind: job.kind,
        file_name: job.file_name,
        bytes: job.bytes,
        state,
        phase: match job.progress.phase {
            Phase::Checking => PhaseDto::Checking,
            Phase::Applying => PhaseDto::Applying,
            Phase::Done => PhaseDto::Done,
        },
        rows_done: job.progress.rows_done,
        rows_total: job.progress.rows_total,
        created_at: job.created_at,
        finished_at: job.finished_at,
        import,
        errors,
        more_errors,
        failure,
    }
}

/// A CSV file, as the OpenAPI document describes it.
pub struct CsvFile;

impl utoipa::PartialSchema for CsvFile {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            // Generators (openapi-python-client) type a body as a file by this format.
            .format(Some(utoipa::openapi::schema::SchemaFormat::KnownFormat(utoipa::openapi::KnownFormat::Binary)))
            .description(Some(
                "UTF-8 CSV in the directory layout: a header row naming the columns, one resident per row",
            ))
            .examples([serde_json::json!(
                "lgCode,addresseeNumber,householdNumber,name,nameKana,aliasName,dateOfBirth,sex,relationship,postalCode,prefecture,city,streetAddress,cityBlock,buildingNameEtc,residentSince,lastChangeReason,lastChangeDate,residentKind,nationality,residenceStatus,residencePeriodEnd\n012084,10000000006,10000000,山田　花子,ヤマダ　ハナコ,,昭和55年2月17日,2,世帯主,090-0024,北海道,北見市,北5条東,2-10,,令和2年4月1日,転入,令和2年4月1日,1,,,\n"
            )])
            .into()
    }
}

impl utoipa::ToSchema for CsvFile {}

/// Uploads wait in the data directory (0700), each file 0600: a resident file is personal
/// data, never for the system's shared temporary directory.
fn temp_path(data_dir: &std::path::Path, id: Uuid) -> std::io::Result<std::path::PathBuf> {
    let dir = data_dir.join("imports");
    crate::datadir::prepare(&dir)?;
    Ok(dir.join(format!("madoguchi-import-{id}.csv")))
}

/// The header row's problems, as field errors of the body (line 1).
fn header_problems(
    state: &AppState,
    path: &std::path::Path,
    kind: FileKind,
    lg_code: &str,
) -> Result<(), Vec<crate::validation::FieldError>> {
    let relationships = crate::residents::file::relationships(&state.forms);
    let options = crate::residents::file::ReadOptions {
        kind,
        lg_code,
        eras: &state.forms.eras,
        relationships: &relationships,
        allow_my_number: state.settings.link.accept_my_number,
    };
    let file = std::fs::File::open(path).map_err(|e| {
        vec![crate::validation::FieldError::new(
            "",
            "unreadable_file",
            Text::new(
                format!("受け取ったファイルを読めません: {e}"),
                format!("The received file cannot be read: {e}"),
            ),
        )]
    })?;
    crate::residents::file::DirectoryReader::new(std::io::BufReader::new(file), options)
        .map(|_| ())
        .map_err(|errors| {
            errors
                .into_iter()
                .map(|e| crate::validation::FieldError::new("", "invalid_header", e.message))
                .collect()
        })
}

/// Send a 住民記録 file to apply to a municipality's directory. The answer comes as soon as
/// the upload is stored: follow the job for progress and the outcome.
#[utoipa::path(
    tag = "admin",
    params(ImportParams),
    request_body(content = inline(CsvFile), content_type = "text/csv"),
    responses(
        (status = 202, description = "Stored; checking and applying in the background", body = JobDto,
            headers(("Location" = String, description = "URL of the job"))),
        (status = 400, description = "An invalid lgCode, kind or query", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Scope admin missing", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such municipality", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 413, description = "Larger than link.max_import_bytes", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 415, description = "Not text/csv", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 422, description = "The header row is not the directory layout (each problem in errors)", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("oauth2" = ["admin"]))
)]
#[post("/admin/resident-imports")]
pub async fn create_import(
    auth: Authorized<scopes::Admin>,
    state: web::Data<AppState>,
    query: web::Query<ImportParams>,
    req: HttpRequest,
    lang: Lang,
    mut body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let code = crate::http::auth::lg_code_problem(&query.lg_code)?;
    let kind = match query.kind {
        KindDto::Full => FileKind::Full,
        KindDto::Diff => FileKind::Diff,
    };
    let csv = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';')
                .next()
                .is_some_and(|t| t.trim().eq_ignore_ascii_case("text/csv"))
        });
    if !csv {
        return Err(ApiError::new(
            ProblemKind::UnsupportedMediaType,
            Text::new(
                "住民記録ファイルは Content-Type: text/csv で送ってください。",
                "Send the directory file as Content-Type: text/csv.",
            ),
        ));
    }
    if state.store.municipality(&code).await?.is_none() {
        return Err(ApiError::not_found(Text::new(
            format!("団体 {code} は登録されていません。"),
            format!("Municipality {code} is not registered."),
        )));
    }
    let id = Uuid::now_v7();
    let path = temp_path(&state.settings.data_dir, id)
        .map_err(|e| ApiError::internal(format!("import directory: {e}")))?;
    let limit = state.settings.link.max_import_bytes;
    let mut bytes = 0u64;
    let stored: Result<(), ApiError> = async {
        let mut file = crate::datadir::create_private(&path)
            .map(tokio::fs::File::from_std)
            .map_err(|e| ApiError::internal(format!("import file: {e}")))?;
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| {
                ApiError::new(
                    ProblemKind::InvalidRequest,
                    Text::new(
                        format!("ファイルの受信が途中で切れました: {e}"),
                        format!("The upload broke off: {e}"),
                    ),
                )
            })?;
            bytes += chunk.len() as u64;
            if bytes > limit {
                return Err(ApiError::new(
                    ProblemKind::PayloadTooLarge,
                    Text::new(
                        format!("ファイルが上限({limit}バイト)を超えています。"),
                        format!("The file is larger than the limit ({limit} bytes)."),
                    ),
                ));
            }
            file.write_all(&chunk)
                .await
                .map_err(|e| ApiError::internal(format!("import file: {e}")))?;
        }
        file.flush()
            .await
            .map_err(|e| ApiError::internal(format!("import file: {e}")))
    }
    .await;
    if let Err(e) = stored {
        let _ = tokio::fs::remove_file(&path).await;
        return Err(e);
    }
    // A file whose header row is not the directory layout (or no CSV at all) is refused now,
    // with what is wrong, rather than accepted as a job that can only fail.
    if let Err(errors) = header_problems(&state, &path, kind, &code.to_string()) {
        let _ = tokio::fs::remove_file(&path).await;
        return Err(ApiError::validation(errors));
    }
    let file_name = query
        .file_name
        .clone()
        .unwrap_or_else(|| format!("{}-{id}.csv", kind.as_str()));
    let job = Job {
        id,
        lg_code: code.to_string(),
        kind: kind.as_str().to_owned(),
        file_name: file_name.clone(),
        bytes,
        created_at: Utc::now(),
        progress: Progress {
            phase: Phase::Checking,
            rows_done: 0,
            rows_total: None,
        },
        outcome: None,
        finished_at: None,
    };
    state.import_jobs.start(job.clone());
    let to_import = FileToImport {
        lg_code: code.to_string(),
        kind,
        path: path.clone(),
        file_name,
        staff: auth.actor.staff.clone(),
        client_id: auth.actor.client_id.clone(),
    };
    let actor = auth.actor.clone();
    let state = state.into_inner();
    let background = state.clone();
    actix_web::rt::spawn(async move {
        let state = background;
        let jobs = state.import_jobs.clone();
        let progress_jobs = jobs.clone();
        let progress: Arc<dyn Fn(Progress) + Send + Sync> =
            Arc::new(move |p| progress_jobs.progress(id, p));
        let importer = Importer {
            store: &state.store,
            eras: state.forms.eras.clone(),
            relationships: crate::residents::file::relationships(&state.forms),
            allow_my_number: state.settings.link.accept_my_number,
            server_key: state.server_key.as_ref(),
        };
        let outcome = match importer.import_audited(&to_import, &actor, progress).await {
            Ok(Outcome::Applied(r)) => {
                tracing::info!(job = %id, rows = r.rows, kind = %r.kind, "directory file applied");
                JobOutcome::Applied(r)
            }
            Ok(Outcome::Unchanged(r)) => JobOutcome::Unchanged(r),
            Err(ImportError::Rows { errors, more }) => {
                tracing::info!(job = %id, problems = errors.len() as u64 + more, "directory file rejected");
                JobOutcome::Rejected { errors, more }
            }
            Err(e) => {
                tracing::error!(job = %id, error = %e, "directory import failed");
                JobOutcome::Failed(e.to_string())
            }
        };
        jobs.finish(id, outcome);
        let _ = tokio::fs::remove_file(&to_import.path).await;
    });
    Ok(HttpResponse::Accepted()
        .insert_header((header::LOCATION, format!("/v1/admin/resident-imports/{id}")))
        .json(job_dto(job, lang)))
}

/// Follow an import this replica took: progress, then the import or the file's problems.
#[utoipa::path(
    tag = "admin",
    params(("jobId" = Uuid, Path, description = "The job's id, from the Location of the upload")),
    responses(
        (status = 200, description = "The job", body = JobDto),
        (status = 400, description = "jobId is not a UUID", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Scope admin missing", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such job on this replica (kept an hour; a restart forgets it, and applies nothing of an unfinished file)", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("oauth2" = ["admin"]))
)]
#[get("/admin/resident-imports/{jobId}")]
pub async fn get_import(
    _auth: Authorized<scopes::Admin>,
    state: web::Data<AppState>,
    path: web::Path<Uuid>,
    lang: Lang,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let job = state.import_jobs.get(id).ok_or_else(|| {
        ApiError::not_found(Text::new(
            format!("取込み {id} はありません(1時間で消え、再起動で失われます。途中だったファイルは何も反映されていません)。"),
            format!("There is no import job {id} (jobs are kept an hour and lost on a restart; an unfinished file applied nothing)."),
        ))
    })?;
    Ok(HttpResponse::Ok().json(job_dto(job, lang)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListParams {
    #[param(example = "012084", pattern = "^[0-9]{6}$")]
    pub lg_code: String,
}

/// The directory's size and the files applied to it, newest first (the last 50).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = DirectoryState)]
pub struct DirectoryDto {
    pub lg_code: String,
    pub residents: u64,
    pub imports: Vec<ImportDto>,
}

/// A municipality's directory: how many residents, which files made it.
#[utoipa::path(
    tag = "admin",
    params(ListParams),
    responses(
        (status = 200, description = "The directory", body = DirectoryDto),
        (status = 400, description = "An invalid lgCode", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Scope admin missing", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("oauth2" = ["admin"]))
)]
#[get("/admin/resident-imports")]
pub async fn list_imports(
    _auth: Authorized<scopes::Admin>,
    state: web::Data<AppState>,
    query: web::Query<ListParams>,
) -> Result<HttpResponse, ApiError> {
    let code = crate::http::auth::lg_code_problem(&query.lg_code)?.to_string();
    let residents = state.store.directory_size(&code).await?;
    let imports = state.store.directory_imports(&code, 50).await?;
    Ok(HttpResponse::Ok().json(DirectoryDto {
        lg_code: code,
        residents,
        imports: imports.into_iter().map(import_dto).collect(),
    }))
}
