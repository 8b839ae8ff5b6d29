//! What answers when no route matches: 405 with `Allow` when the path exists for other
//! methods, 404 otherwise. The route table comes from the OpenAPI document, so it can never
//! disagree with the documented routes.

use actix_web::dev::ResourceDef;
use actix_web::http::{Method, header};
use actix_web::{HttpRequest, web};
use utoipa::openapi::OpenApi;

use crate::http::problem::{ApiError, ProblemKind};
use crate::i18n::Text;

pub struct RouteTable {
    routes: Vec<(ResourceDef, Vec<Method>)>,
}

impl RouteTable {
    pub fn from_openapi(doc: &OpenApi) -> Self {
        let routes = doc
            .paths
            .paths
            .iter()
            .map(|(path, item)| {
                let mut methods = Vec::new();
                for (method, op) in [
                    (Method::GET, &item.get),
                    (Method::POST, &item.post),
                    (Method::PUT, &item.put),
                    (Method::PATCH, &item.patch),
                    (Method::DELETE, &item.delete),
                ] {
                    if op.is_some() {
                        methods.push(method);
                    }
                }
                (ResourceDef::new(path.as_str()), methods)
            })
            .collect();
        Self { routes }
    }

    fn allowed(&self, path: &str) -> Option<&[Method]> {
        self.routes
            .iter()
            .find(|(def, _)| def.is_match(path))
            .map(|(_, methods)| methods.as_slice())
    }
}

pub async fn not_found_or_not_allowed(
    req: HttpRequest,
    table: web::Data<RouteTable>,
) -> Result<actix_web::HttpResponse, ApiError> {
    if let Some(methods) = table.allowed(req.path()) {
        let allow = methods
            .iter()
            .map(Method::as_str)
            .collect::<Vec<_>>()
            .join(", ");
        return Err(ApiError::new(
            ProblemKind::MethodNotAllowed,
            Text::new(
                format!(
                    "{} は {} を受け付けません。使えるメソッド: {allow}",
                    req.path(),
                    req.method()
                ),
                format!(
                    "{} does not accept {}; allowed: {allow}",
                    req.path(),
                    req.method()
                ),
            ),
        )
        .with_header(header::ALLOW, &allow));
    }
    Err(ApiError::new(
        ProblemKind::RouteNotFound,
        Text::new(
            format!(
                "{} に対応する API はありません。/docs で API を確認してください。",
                req.path()
            ),
            format!("No API answers at {}. See /docs for the API.", req.path()),
        ),
    ))
}
