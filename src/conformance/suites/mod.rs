//! The suites of the kit, one module each.

/// One test of a suite: id, Japanese and English titles, the function; optionally the
/// capabilities it needs and whether it runs last.
macro_rules! test {
    ($id:literal, $ja:literal, $en:literal, $f:path) => {
        test!($id, $ja, $en, $f, needs = [], last = false)
    };
    ($id:literal, $ja:literal, $en:literal, $f:path, needs = [$($cap:expr),*], last = $last:expr) => {
        $crate::conformance::suite::TestDef {
            id: $id,
            title_ja: $ja,
            title_en: $en,
            needs: &[$($cap),*],
            last: $last,
            run: |ctx| Box::pin($f(ctx)),
        }
    };
}

pub mod core_http;
pub mod gateway_api;
pub mod link_files;
