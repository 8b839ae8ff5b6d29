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
pub mod counter_app;
pub mod gateway_api;
pub mod link_files;

/// At most this many findings are quoted in one check; the rest are counted.
const QUOTED: usize = 20;

/// Findings one per line, the first [`QUOTED`] of them, then how many more; `none` when
/// there are none.
fn quoted(found: &[String], none: &str) -> String {
    if found.is_empty() {
        return none.to_owned();
    }
    let mut text = found
        .iter()
        .take(QUOTED)
        .cloned()
        .collect::<Vec<_>>()
        .join("\n");
    if found.len() > QUOTED {
        text.push_str(&format!("\n… and {} more", found.len() - QUOTED));
    }
    text
}
