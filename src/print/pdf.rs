//! Laid-out pages to PDF with krilla: the typeface is embedded as a subset of the glyphs the
//! pages use, with a ToUnicode map so the text can be searched and copied.

use krilla::Document;
use krilla::color::luma;
use krilla::geom::{PathBuilder, Point, Rect};
use krilla::metadata::Metadata;
use krilla::page::PageSettings;
use krilla::paint::{Fill, Stroke};
use krilla::text::TextDirection;

use super::PrintError;
use super::layout::{Op, PAGE_HEIGHT, PAGE_WIDTH, Page};
use super::typeface::Typeface;

pub fn write(face: &Typeface, title: &str, pages: &[Page]) -> Result<Vec<u8>, PrintError> {
    let mut document = Document::new();
    let settings = || {
        PageSettings::from_wh(PAGE_WIDTH, PAGE_HEIGHT)
            .ok_or_else(|| PrintError::Pdf("page size".to_owned()))
    };
    for page in pages {
        let mut pdf_page = document.start_page_with(settings()?);
        let mut surface = pdf_page.surface();
        for op in &page.ops {
            match op {
                Op::Text { x, y, size, text } => {
                    surface.set_stroke(None);
                    surface.set_fill(Some(Fill::default()));
                    surface.draw_text(
                        Point::from_xy(*x, *y),
                        face.font.clone(),
                        *size,
                        text,
                        false,
                        TextDirection::Auto,
                    );
                }
                Op::Line { from, to, width } => {
                    let mut path = PathBuilder::new();
                    path.move_to(from.0, from.1);
                    path.line_to(to.0, to.1);
                    if let Some(path) = path.finish() {
                        surface.set_fill(None);
                        surface.set_stroke(Some(Stroke {
                            width: *width,
                            ..Default::default()
                        }));
                        surface.draw_path(&path);
                    }
                }
                Op::Rect {
                    x,
                    y,
                    w,
                    h,
                    fill,
                    stroke,
                } => {
                    let Some(rect) = Rect::from_xywh(*x, *y, *w, *h) else {
                        continue;
                    };
                    let mut path = PathBuilder::new();
                    path.push_rect(rect);
                    if let Some(path) = path.finish() {
                        surface.set_fill(fill.map(|gray| Fill {
                            paint: luma::Color::new(gray).into(),
                            ..Default::default()
                        }));
                        surface.set_stroke(stroke.map(|width| Stroke {
                            width,
                            ..Default::default()
                        }));
                        surface.draw_path(&path);
                    }
                }
            }
        }
        surface.finish();
        pdf_page.finish();
    }
    document.set_metadata(
        Metadata::new()
            .title(title.to_owned())
            .language("ja".to_owned())
            .creator(format!("madoguchi {}", env!("CARGO_PKG_VERSION"))),
    );
    document
        .finish()
        .map_err(|e| PrintError::Pdf(format!("{e:?}")))
}
