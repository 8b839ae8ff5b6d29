//! The console's files, compiled into the binary (municipal networks are closed: no CDN, no
//! outside request of any kind) and served under `/counter/static/{version}/`, where the
//! version is a digest of all of them: a browser caches them for a year and still never
//! keeps a stale one after an upgrade.

use std::sync::LazyLock;

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use include_dir::{Dir, include_dir};
use sha2::{Digest, Sha256};

static FILES: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/src/console/static");

/// The typeface of the printouts, served for the pages too.
const FONT_NAME: &str = "BIZUDGothic-Regular.ttf";

static VERSION: LazyLock<String> = LazyLock::new(|| {
    let mut digest = Sha256::new();
    for file in FILES.files() {
        digest.update(file.path().to_string_lossy().as_bytes());
        digest.update(file.contents());
    }
    hex::encode(&digest.finalize()[..6])
});

/// The URL of a static file.
pub fn url(name: &str) -> String {
    format!("/counter/static/{}/{name}", *VERSION)
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next() {
        Some("css") => "text/css; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("ttf") => "font/ttf",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// `GET /counter/static/{version}/{name}`.
pub async fn serve(path: web::Path<(String, String)>) -> HttpResponse {
    let (version, name) = path.into_inner();
    let bytes: Option<&'static [u8]> = if name == FONT_NAME {
        Some(crate::print::typeface::font_file())
    } else {
        FILES.get_file(&name).map(|f| f.contents())
    };
    let Some(bytes) = bytes else {
        return HttpResponse::NotFound()
            .content_type("text/plain; charset=utf-8")
            .body("not found");
    };
    let cache = if version == *VERSION {
        "public, max-age=31536000, immutable"
    } else {
        // An old page asking for its version's file gets today's, not cached.
        "no-cache"
    };
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, content_type(&name)))
        .insert_header((header::CACHE_CONTROL, cache))
        .body(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_vendored_file_has_its_licence_beside_it() {
        for (file, licence) in [
            ("htmx-2.0.11.min.js", "LICENSE-htmx.txt"),
            ("dads-tokens-1.1.9.css", "LICENSE-dads-tokens.txt"),
            ("htmx-ext-sse-2.2.4.min.js", "LICENSE-htmx-ext-sse.txt"),
        ] {
            assert!(FILES.get_file(file).is_some(), "{file}");
            assert!(FILES.get_file(licence).is_some(), "{licence}");
        }
        let dads = FILES.get_file("LICENSE-dads-tokens.txt").unwrap();
        assert!(dads.contents_utf8().unwrap().contains("デジタル庁"));
    }

    #[test]
    fn urls_carry_the_version() {
        assert!(url("console.css").starts_with("/counter/static/"));
        assert_eq!(VERSION.len(), 12);
    }
}
