//! Printouts: sheets of titled, labelled rows, lists and a signature box, laid out on A4 in
//! the one embedded Japanese typeface and written as PDF.
//!
//! Callers describe *what* a sheet says ([`Sheet`], [`Block`]); [`layout`] decides where it
//! goes (line breaking by the Unicode rules, page breaks, page numbers) and [`pdf`] draws it.

pub mod layout;
pub mod pdf;
pub mod typeface;

use std::collections::BTreeSet;

pub use typeface::Typeface;

/// One printed document (a form, a receipt); it takes as many pages as it needs and numbers
/// them on its own.
#[derive(Debug, Clone, Default)]
pub struct Sheet {
    pub title: String,
    pub subtitle: Option<String>,
    /// Short lines at the top right (来庁日, 受付番号 …).
    pub corner: Vec<String>,
    /// A framed notice under the title (確認用, 署名済み …).
    pub banner: Option<String>,
    pub blocks: Vec<Block>,
    /// At the foot of every page, left of the page number.
    pub footer: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    /// Starts a section.
    Heading(String),
    /// A labelled value in a two-column frame; `depth` indents the label (nested fields).
    Row {
        label: String,
        value: String,
        depth: u8,
    },
    /// Running text.
    Text(String),
    /// A list entry with smaller lines under it.
    Item { text: String, details: Vec<String> },
    /// The box the resident signs in, or the record that they did.
    Signature {
        label: String,
        /// Printed in the box: the signer's name, or how the signature was given.
        inside: Option<String>,
        /// The signature as written on the pad, drawn in the box below `inside`.
        image: Option<Picture>,
    },
}

/// A raster image as uploaded (already checked to decode whole), printed scaled to fit its
/// box with its proportions kept.
#[derive(Debug, Clone, PartialEq)]
pub struct Picture {
    pub format: PictureFormat,
    pub bytes: std::sync::Arc<Vec<u8>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PictureFormat {
    Png,
    Jpeg,
}

/// Several sheets printed as one PDF (the visit's forms and its receipt at once).
#[derive(Debug, Clone, Default)]
pub struct Booklet {
    /// The PDF's title.
    pub title: String,
    /// The PDF's keywords: identifiers that belong in the file but not on the paper.
    pub keywords: Vec<String>,
    pub sheets: Vec<Sheet>,
}

#[derive(Debug)]
pub struct Printed {
    pub pdf: Vec<u8>,
    pub pages: usize,
    /// Characters the typeface has no glyph for, printed as 〓 (with a note on the sheet).
    pub missing: BTreeSet<char>,
}

#[derive(Debug, thiserror::Error)]
pub enum PrintError {
    #[error("the PDF writer refused the document: {0}")]
    Pdf(String),
    #[error("the printout was stopped before it was finished")]
    Stopped,
}

/// Lays out and writes a booklet.
pub fn print(face: &Typeface, booklet: &Booklet) -> Result<Printed, PrintError> {
    print_until(face, booklet, || true)
}

/// [`print`], asking `go_on` before each sheet and before writing: [`PrintError::Stopped`]
/// once it says no (the request that wanted the PDF is gone).
pub fn print_until(
    face: &Typeface,
    booklet: &Booklet,
    go_on: impl Fn() -> bool,
) -> Result<Printed, PrintError> {
    let mut missing = BTreeSet::new();
    let mut pages = Vec::new();
    for sheet in &booklet.sheets {
        if !go_on() {
            return Err(PrintError::Stopped);
        }
        let absent = missing_in_sheet(face, sheet);
        let mut sheet = sheet.clone();
        if !absent.is_empty() {
            sheet.blocks.push(Block::Text(missing_note(&absent)));
        }
        missing.extend(absent);
        pages.extend(layout::lay_out(face, &sheet));
    }
    if !go_on() {
        return Err(PrintError::Stopped);
    }
    let count = pages.len();
    let pdf = pdf::write(face, &booklet.title, &booklet.keywords, &pages)?;
    Ok(Printed {
        pdf,
        pages: count,
        missing,
    })
}

fn missing_in_sheet(face: &Typeface, sheet: &Sheet) -> BTreeSet<char> {
    let mut texts: Vec<&str> = vec![&sheet.title, &sheet.footer];
    texts.extend(sheet.subtitle.as_deref());
    texts.extend(sheet.banner.as_deref());
    texts.extend(sheet.corner.iter().map(String::as_str));
    for block in &sheet.blocks {
        match block {
            Block::Heading(t) | Block::Text(t) => texts.push(t),
            Block::Row { label, value, .. } => texts.extend([label.as_str(), value.as_str()]),
            Block::Item { text, details } => {
                texts.push(text);
                texts.extend(details.iter().map(String::as_str));
            }
            Block::Signature { label, inside, .. } => {
                texts.push(label);
                texts.extend(inside.as_deref());
            }
        }
    }
    texts.into_iter().flat_map(|t| face.missing_in(t)).collect()
}

fn missing_note(absent: &BTreeSet<char>) -> String {
    let codes: Vec<String> = absent
        .iter()
        .map(|c| format!("U+{:04X}", *c as u32))
        .collect();
    format!(
        "〓 の箇所は、この印刷の書体にない文字です({})。データには正しい文字のまま記録されています。外字の字形は窓口の職員が確認します。",
        codes.join("、")
    )
}
