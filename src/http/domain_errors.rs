//! The one place where domain errors become problems.

use super::problem::{ApiError, ProblemKind};
use crate::auth::ClientError;
use crate::i18n::Text;
use crate::store::StoreError;
use crate::tenancy::MunicipalityError;

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError::internal(e)
    }
}

impl From<MunicipalityError> for ApiError {
    fn from(e: MunicipalityError) -> Self {
        match e {
            MunicipalityError::NotFound(code) => ApiError::not_found(Text::new(
                format!("団体 {code} は登録されていません。"),
                format!("Municipality {code} is not registered."),
            )),
            MunicipalityError::AlreadyExists(code) => ApiError::new(
                ProblemKind::Conflict,
                Text::new(
                    format!("団体 {code} は既に登録されています。"),
                    format!("Municipality {code} is registered already."),
                ),
            ),
            MunicipalityError::Invalid(errors) => ApiError::validation(errors),
            MunicipalityError::Store(e) => e.into(),
        }
    }
}

impl From<ClientError> for ApiError {
    fn from(e: ClientError) -> Self {
        match e {
            ClientError::NotFound(id) => ApiError::not_found(Text::new(
                format!("クライアント {id} はありません。"),
                format!("There is no client {id}."),
            )),
            ClientError::Invalid(errors) => ApiError::validation(errors),
            ClientError::Store(e) => e.into(),
            ClientError::Internal(e) => ApiError::internal(e),
        }
    }
}

impl From<crate::staff::service::StaffError> for ApiError {
    fn from(e: crate::staff::service::StaffError) -> Self {
        use crate::staff::service::StaffError;
        match e {
            StaffError::Invalid(errors) => ApiError::validation(errors),
            StaffError::Taken(login) => ApiError::new(
                ProblemKind::Conflict,
                Text::new(
                    format!(
                        "ログイン名「{login}」はこの団体で使われています。別の名前にしてください。"
                    ),
                    format!("The login {login:?} is taken in this municipality; choose another."),
                ),
            ),
            StaffError::UnknownMunicipality => ApiError::not_found(Text::new(
                "この団体は登録されていません。",
                "The municipality is not registered.",
            )),
            StaffError::Busy(wait) => ApiError::new(
                ProblemKind::Busy,
                Text::new(
                    "パスワードの処理が混み合っています。少し待ってから、もう一度送ってください。",
                    "Passwords are being processed for many requests; retry shortly.",
                ),
            )
            .with_header(
                actix_web::http::header::RETRY_AFTER,
                &wait.as_secs().max(1).to_string(),
            ),
            StaffError::Store(e) => e.into(),
        }
    }
}
