//! Where the schema files come from: the copy of `schemas/` built into the binary, or a
//! directory an operator points `schemas.dir` at (to add an era or a dialect without a release).

use std::path::{Path, PathBuf};

use include_dir::{Dir, include_dir};

static EMBEDDED: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/schemas");

/// One file: its path relative to the schema root (with `/`), and its text.
#[derive(Debug, Clone)]
pub struct SchemaFile {
    pub path: String,
    pub text: String,
}

#[derive(Debug, Clone)]
pub enum SchemaSource {
    Embedded,
    Directory(PathBuf),
}

impl SchemaSource {
    pub fn describe(&self) -> String {
        match self {
            Self::Embedded => "built-in schemas".to_owned(),
            Self::Directory(dir) => dir.display().to_string(),
        }
    }

    /// Every `.json` file, sorted by path.
    pub fn files(&self) -> Result<Vec<SchemaFile>, (String, String)> {
        let mut files = Vec::new();
        match self {
            Self::Embedded => collect_embedded(&EMBEDDED, &mut files)?,
            Self::Directory(root) => collect_dir(root, root, &mut files)?,
        }
        files.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(files)
    }
}

fn collect_embedded(dir: &Dir<'_>, out: &mut Vec<SchemaFile>) -> Result<(), (String, String)> {
    for file in dir.files() {
        let path = file.path().to_string_lossy().replace('\\', "/");
        if !path.ends_with(".json") {
            continue;
        }
        let text = file
            .contents_utf8()
            .ok_or_else(|| (path.clone(), "not valid UTF-8".to_owned()))?;
        out.push(SchemaFile {
            path,
            text: text.to_owned(),
        });
    }
    for sub in dir.dirs() {
        collect_embedded(sub, out)?;
    }
    Ok(())
}

fn collect_dir(root: &Path, dir: &Path, out: &mut Vec<SchemaFile>) -> Result<(), (String, String)> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        (
            dir.display().to_string(),
            format!("cannot read the directory: {e}"),
        )
    })?;
    for entry in entries {
        let entry = entry.map_err(|e| (dir.display().to_string(), e.to_string()))?;
        let path = entry.path();
        if path.is_dir() {
            collect_dir(root, &path, out)?;
        } else if path.extension().is_some_and(|e| e == "json") {
            let relative = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .to_string_lossy()
                .replace('\\', "/");
            let text = std::fs::read_to_string(&path)
                .map_err(|e| (relative.clone(), format!("cannot read: {e}")))?;
            out.push(SchemaFile {
                path: relative,
                text,
            });
        }
    }
    Ok(())
}
