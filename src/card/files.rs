//! The files read from a card, and card dumps: a directory with one subdirectory per
//! application (`kenhojo/`, `kenkaku/`, `jpki/`) and one file per EF named by its FID
//! (`0001.bin`, `000A.der` …), each exactly as the card returned it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The EFs read from one application, by FID.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppFiles(pub BTreeMap<u16, Vec<u8>>);

impl AppFiles {
    pub fn get(&self, fid: u16) -> Option<&[u8]> {
        self.0.get(&fid).map(Vec::as_slice)
    }

    pub fn insert(&mut self, fid: u16, bytes: Vec<u8>) {
        self.0.insert(fid, bytes);
    }
}

/// What a dump holds, by application.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dump {
    pub kenhojo: AppFiles,
    pub kenkaku: AppFiles,
    pub jpki: AppFiles,
}

pub const APPLICATIONS: [&str; 3] = ["kenhojo", "kenkaku", "jpki"];

#[derive(Debug, thiserror::Error)]
pub enum DumpError {
    #[error("{path}: {problem}")]
    File { path: PathBuf, problem: String },
    #[error("{0}: holds none of kenhojo/, kenkaku/, jpki/ — not a card dump")]
    Empty(PathBuf),
}

fn file_problem(path: &Path, problem: impl Into<String>) -> DumpError {
    DumpError::File {
        path: path.to_owned(),
        problem: problem.into(),
    }
}

impl Dump {
    pub fn app_mut(&mut self, app: &str) -> Option<&mut AppFiles> {
        match app {
            "kenhojo" => Some(&mut self.kenhojo),
            "kenkaku" => Some(&mut self.kenkaku),
            "jpki" => Some(&mut self.jpki),
            _ => None,
        }
    }

    pub fn app(&self, app: &str) -> Option<&AppFiles> {
        match app {
            "kenhojo" => Some(&self.kenhojo),
            "kenkaku" => Some(&self.kenkaku),
            "jpki" => Some(&self.jpki),
            _ => None,
        }
    }

    /// Reads a dump directory. Files not named `<4 hex digits>.bin|.der` are refused with
    /// their name, so a misnamed file is never silently left out.
    pub fn read(dir: &Path) -> Result<Self, DumpError> {
        let mut dump = Dump::default();
        let mut found = false;
        for app in APPLICATIONS {
            let sub = dir.join(app);
            if !sub.is_dir() {
                continue;
            }
            found = true;
            let entries = std::fs::read_dir(&sub).map_err(|e| file_problem(&sub, e.to_string()))?;
            for entry in entries {
                let path = entry.map_err(|e| file_problem(&sub, e.to_string()))?.path();
                if !path.is_file() {
                    continue;
                }
                let name = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or_default();
                let fid = name
                    .strip_suffix(".bin")
                    .or_else(|| name.strip_suffix(".der"))
                    .filter(|stem| stem.len() == 4)
                    .and_then(|stem| u16::from_str_radix(stem, 16).ok())
                    .ok_or_else(|| {
                        file_problem(
                            &path,
                            "name each file by its EF's FID: 4 hex digits and .bin or .der (0002.bin)",
                        )
                    })?;
                let bytes = std::fs::read(&path).map_err(|e| file_problem(&path, e.to_string()))?;
                if let Some(files) = dump.app_mut(app) {
                    files.insert(fid, bytes);
                }
            }
        }
        if !found {
            return Err(DumpError::Empty(dir.to_owned()));
        }
        Ok(dump)
    }

    /// Writes the dump: `<app>/<FID>.bin` for every file.
    pub fn write(&self, dir: &Path) -> Result<(), DumpError> {
        for app in APPLICATIONS {
            let Some(files) = self.app(app) else { continue };
            if files.0.is_empty() {
                continue;
            }
            let sub = dir.join(app);
            std::fs::create_dir_all(&sub).map_err(|e| file_problem(&sub, e.to_string()))?;
            for (fid, bytes) in &files.0 {
                let path = sub.join(format!("{fid:04X}.bin"));
                std::fs::write(&path, bytes).map_err(|e| file_problem(&path, e.to_string()))?;
            }
        }
        Ok(())
    }
}
