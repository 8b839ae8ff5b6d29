//! The resident directory's import files: header, rows and names, as `link import` and `link
//! watch` read them.

use super::{quoted, shown, target};
use crate::conformance::suite::{Abort, Ctx};
use crate::residents::file::{FileKind, ReadOptions, check_file, relationships};

/// How many problems of a file the check keeps (the importer's own limit).
const KEPT: usize = 100;

pub async fn files(ctx: &mut Ctx) -> Result<(), Abort> {
    let files = target(ctx)?;
    let lg_code = files.lg_code.clone().ok_or_else(|| {
        Abort::Setup("the inputs name no lg_code for the import files".to_owned())
    })?;
    let forms = crate::conformance::specimens::forms().map_err(Abort::Setup)?;
    let relationships = relationships(forms);
    for path in &files.csv {
        let name = shown(&files.dir, path);
        let by_name = FileKind::of_file_name(
            &path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        );
        ctx.check_at(
            "IMP-004",
            by_name.is_some(),
            "full-<order>.csv or diff-<order>.csv",
            name.clone(),
            None,
        );
        // A file named for neither is read as a full file.
        let kind = by_name.unwrap_or(FileKind::Full);
        let file = std::fs::File::open(path).map_err(|e| Abort::Setup(format!("{name}: {e}")))?;
        let options = ReadOptions {
            kind,
            lg_code: &lg_code,
            eras: &forms.eras,
            relationships: &relationships,
            allow_my_number: files.accept_my_number,
        };
        let checked = check_file(std::io::BufReader::new(file), options, KEPT, &mut |_| {});
        let say = |e: &crate::residents::file::RowError| format!("{name}: {}", e.message.ja);
        let header: Vec<String> = checked
            .errors
            .iter()
            .filter(|e| e.line <= 1)
            .map(say)
            .collect();
        ctx.check_at(
            "IMP-001",
            header.is_empty(),
            format!(
                "{name}: a header row of the layout's columns ({} file)",
                kind.as_str()
            ),
            quoted(&header),
            None,
        );
        if !header.is_empty() {
            // Without its header no row can be read.
            continue;
        }
        let rows: Vec<String> = checked
            .errors
            .iter()
            .filter(|e| e.line > 1 && !checked.repeated.contains(&e.line))
            .map(say)
            .collect();
        let mut row_problems = rows;
        if checked.more > 0 {
            row_problems.push(format!("{name}: {} more problems not listed", checked.more));
        }
        ctx.check_at(
            "IMP-002",
            row_problems.is_empty(),
            format!("{name}: every row in the layout"),
            format!("{} rows: {}", checked.rows, quoted(&row_problems)),
            None,
        );
        if kind == FileKind::Full {
            let repeated: Vec<String> = checked
                .errors
                .iter()
                .filter(|e| checked.repeated.contains(&e.line))
                .map(say)
                .collect();
            ctx.check_at(
                "IMP-003",
                repeated.is_empty(),
                format!("{name}: each resident once"),
                quoted(&repeated),
                None,
            );
        }
    }
    Ok(())
}
