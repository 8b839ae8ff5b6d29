//! Laid-out pages to PDF with krilla: the typeface is embedded as a subset of the glyphs the
//! pages use, with a ToUnicode map so the text can be searched and copied.

use krilla::Document;
use krilla::color::luma;
use krilla::geom::{PathBuilder, Point, Rect, Size, Transform};
use krilla::image::Image;
use krilla::metadata::Metadata;
use krilla::page::PageSettings;
use krilla::paint::{Fill, Stroke};
use krilla::text::TextDirection;

use super::PrintError;
use super::layout::{Op, PAGE_HEIGHT, PAGE_WIDTH, Page};
use super::typeface::Typeface;
use super::{Picture, PictureFormat};

pub fn write(
    face: &Typeface,
    title: &str,
    keywords: &[String],
    pages: &[Page],
) -> Result<Vec<u8>, PrintError> {
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
                Op::Image {
                    x,
                    y,
                    w,
                    h,
                    picture,
                } => {
                    let image = image(picture)?;
                    let (px, py) = image.size();
                    if px == 0 || py == 0 {
                        continue;
                    }
                    // Fitted into the box, proportions kept, centred.
                    let scale = (w / px as f32).min(h / py as f32);
                    let (dw, dh) = (px as f32 * scale, py as f32 * scale);
                    let Some(size) = Size::from_wh(dw, dh) else {
                        continue;
                    };
                    surface.push_transform(&Transform::from_translate(
                        x + (w - dw) / 2.0,
                        y + (h - dh) / 2.0,
                    ));
                    surface.draw_image(image, size);
                    surface.pop();
                }
            }
        }
        surface.finish();
        pdf_page.finish();
    }
    document.set_metadata(
        Metadata::new()
            .title(title.to_owned())
            .keywords(keywords.to_vec())
            .language("ja".to_owned())
            .creator(format!("madoguchi {}", env!("CARGO_PKG_VERSION"))),
    );
    document
        .finish()
        .map_err(|e| PrintError::Pdf(format!("{e:?}")))
}

fn image(picture: &Picture) -> Result<Image, PrintError> {
    let data = picture.bytes.clone().into();
    match picture.format {
        PictureFormat::Png => Image::from_png(data, true),
        PictureFormat::Jpeg => Image::from_jpeg(data, true),
    }
    .map_err(|e| PrintError::Pdf(format!("the signature image: {e}")))
}
