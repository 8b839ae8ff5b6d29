//! `X-Request-Id`: taken from the request when it is a sane token, generated (UUID v7)
//! otherwise, kept in the request's extensions for logs, problems and the audit log, and
//! echoed on every response.
//!
//! Written by hand: tracing-actix-web's `RequestId` is always a fresh UUID and cannot adopt
//! the id a caller (or a load balancer) already assigned.

use std::future::{Ready, ready};
use std::rc::Rc;

use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{FromRequest, HttpMessage};
use futures_util::future::LocalBoxFuture;
use uuid::Uuid;

pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// The id of the request being served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

impl RequestId {
    /// Accepts 1–128 characters of `[A-Za-z0-9._:-]`, which keeps log lines and headers
    /// clean whatever a caller sends.
    fn from_header(value: &HeaderValue) -> Option<Self> {
        let s = value.to_str().ok()?;
        let ok = !s.is_empty()
            && s.len() <= 128
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'));
        ok.then(|| Self(s.to_owned()))
    }
}

impl FromRequest for RequestId {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &actix_web::HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let id = req
            .extensions()
            .get::<RequestId>()
            .cloned()
            .unwrap_or_else(|| RequestId(Uuid::now_v7().to_string()));
        ready(Ok(id))
    }
}

pub struct RequestIdMiddleware;

impl<S, B> Transform<S, ServiceRequest> for RequestIdMiddleware
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: 'static,
{
    type Response = ServiceResponse<B>;
    type Error = actix_web::Error;
    type Transform = RequestIdService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(RequestIdService {
            service: Rc::new(service),
        }))
    }
}

pub struct RequestIdService<S> {
    service: Rc<S>,
}

impl<S, B> Service<ServiceRequest> for RequestIdService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: 'static,
{
    type Response = ServiceResponse<B>;
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self::Response, Self::Error>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let id = req
            .headers()
            .get(&REQUEST_ID_HEADER)
            .and_then(RequestId::from_header)
            .unwrap_or_else(|| RequestId(Uuid::now_v7().to_string()));
        let header = HeaderValue::from_str(&id.0).ok();
        req.extensions_mut().insert(id);
        let service = self.service.clone();
        Box::pin(async move {
            let mut res = service.call(req).await?;
            if let Some(value) = header {
                res.headers_mut().insert(REQUEST_ID_HEADER, value);
            }
            Ok(res)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_sane_ids_are_adopted() {
        let ok = HeaderValue::from_static("lb-1234:abcd.EF_9");
        assert_eq!(RequestId::from_header(&ok).unwrap().0, "lb-1234:abcd.EF_9");
        for bad in ["", "has space", "semi;colon", &"x".repeat(129)] {
            let v = HeaderValue::from_str(bad).unwrap();
            assert!(RequestId::from_header(&v).is_none(), "{bad:?}");
        }
    }
}
