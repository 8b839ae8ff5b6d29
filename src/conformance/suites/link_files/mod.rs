//! `link-files`: the files of the core-system link, checked against their documented layouts
//! (docs/link.md) in a directory, each problem by file and line (or JSON Pointer):
//!
//! - import files of the resident directory (住民記録 `full-*.csv`, `diff-*.csv`), as a 住民記録
//!   system writes them for the gateway;
//! - a `file` connector's outbox (`{lgCode}/{area}/{applicationId}.json` and
//!   `manifest-{batchId}.json`), as a gateway writes it for a core system.
//!
//! What the directory holds decides what is checked: the capabilities `import-files` and
//! `file-outbox` are found, not declared.

mod import;
mod outbox;

use std::path::{Path, PathBuf};

use crate::conformance::requirements::Capability;
use crate::conformance::suite::{Abort, Ctx, FilesTarget, Suite, Target};

const IMPORT_FILES: Capability = Capability::ImportFiles;
const FILE_OUTBOX: Capability = Capability::FileOutbox;

pub static SUITE: Suite = Suite {
    name: "link-files",
    set: "link-files",
    target: Target::Files,
    title_ja: "基幹システム連携のファイルの適合性",
    title_en: "Conformance of the core-system link's files",
    tests: &[
        test!(
            "import.files",
            "住民記録ファイルの配置",
            "The resident directory's files in their layout",
            import::files,
            needs = [IMPORT_FILES],
            last = false
        ),
        test!(
            "outbox.manifests",
            "配信目録とその一覧のファイル",
            "The manifests and the files they list",
            outbox::manifests,
            needs = [FILE_OUTBOX],
            last = false
        ),
        test!(
            "outbox.documents",
            "配信された申請文書",
            "The application documents delivered",
            outbox::documents,
            needs = [FILE_OUTBOX],
            last = false
        ),
        test!(
            "outbox.at-rest",
            "書き終えた配信先に残るもの",
            "What an outbox at rest holds",
            outbox::at_rest,
            needs = [FILE_OUTBOX],
            last = false
        ),
    ],
};

fn target(ctx: &Ctx) -> Result<FilesTarget, Abort> {
    ctx.sut()
        .files
        .clone()
        .ok_or_else(|| Abort::Setup("the run has no directory".to_owned()))
}

fn quoted(found: &[String]) -> String {
    super::quoted(found, "no problem")
}

/// A path as the report shows it: relative to the directory under test.
fn shown(dir: &Path, path: &Path) -> String {
    path.strip_prefix(dir)
        .unwrap_or(path)
        .to_string_lossy()
        .into_owned()
}

/// What a directory holds for the suite: import files at its top, and an outbox's
/// `{lgCode}/{area}/` directories.
#[derive(Debug, Default)]
pub struct Found {
    pub csv: Vec<PathBuf>,
    pub areas: Vec<PathBuf>,
}

/// Looks through `dir` (the CSV files at its top; two levels of directories, six digits then
/// an area, for the outbox).
pub fn find(dir: &Path) -> std::io::Result<Found> {
    let mut found = Found::default();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if path.is_file() && name.to_ascii_lowercase().ends_with(".csv") {
            found.csv.push(path);
        } else if path.is_dir() && name.len() == 6 && name.chars().all(|c| c.is_ascii_digit()) {
            for area in std::fs::read_dir(&path)? {
                let area = area?.path();
                if area.is_dir() {
                    found.areas.push(area);
                }
            }
        }
    }
    found.csv.sort();
    found.areas.sort();
    Ok(found)
}
