//! Request methods the gateway does not know (anything but the nine of RFC 9110 and PATCH)
//! are renamed `OTHER` before anything looks at them. No route answers such a method anyway
//! (the answer stays 405 or 404), but metrics and logs label requests by method: left alone,
//! every made-up method name would add a new time series to `/metrics` and grow it without
//! bound.

use std::future::{Ready, ready};

use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::Method;

pub struct UnknownMethods;

/// The one method every unknown method becomes.
pub fn other() -> Method {
    Method::from_bytes(b"OTHER").unwrap_or(Method::TRACE)
}

fn known(method: &Method) -> bool {
    [
        Method::GET,
        Method::HEAD,
        Method::POST,
        Method::PUT,
        Method::DELETE,
        Method::CONNECT,
        Method::OPTIONS,
        Method::TRACE,
        Method::PATCH,
    ]
    .contains(method)
}

impl<S, B> Transform<S, ServiceRequest> for UnknownMethods
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: 'static,
{
    type Response = ServiceResponse<B>;
    type Error = actix_web::Error;
    type Transform = UnknownMethodsService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(UnknownMethodsService { service }))
    }
}

pub struct UnknownMethodsService<S> {
    service: S,
}

impl<S, B> Service<ServiceRequest> for UnknownMethodsService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: 'static,
{
    type Response = ServiceResponse<B>;
    type Error = actix_web::Error;
    type Future = S::Future;

    forward_ready!(service);

    fn call(&self, mut req: ServiceRequest) -> Self::Future {
        if !known(req.method()) {
            req.head_mut().method = other();
        }
        self.service.call(req)
    }
}
