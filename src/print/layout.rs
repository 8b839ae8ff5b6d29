//! Where everything of a sheet goes on A4 pages: lines broken by the Unicode line-breaking
//! rules (UAX #14, which keeps 。、」 off the start of a line), rows split across pages when
//! they must, headings kept with what follows, and every page numbered within its sheet.

use super::typeface::Typeface;
use super::{Block, Picture, Sheet};

pub const PAGE_WIDTH: f32 = 595.28;
pub const PAGE_HEIGHT: f32 = 841.89;
const MARGIN_X: f32 = 48.0;
const TOP: f32 = 44.0;
/// Content ends here; the footer goes below.
const BOTTOM: f32 = PAGE_HEIGHT - 56.0;
const FOOTER_BASELINE: f32 = PAGE_HEIGHT - 32.0;
const CONTENT_WIDTH: f32 = PAGE_WIDTH - 2.0 * MARGIN_X;

const TITLE_SIZE: f32 = 17.0;
const SUBTITLE_SIZE: f32 = 10.0;
const SMALL_SIZE: f32 = 8.0;
const HEADING_SIZE: f32 = 11.0;
const BODY_SIZE: f32 = 9.5;
const BODY_LEADING: f32 = 14.0;
const DETAIL_SIZE: f32 = 8.5;
const DETAIL_LEADING: f32 = 12.5;

const LABEL_WIDTH: f32 = 150.0;
const CELL_PAD_X: f32 = 5.0;
const CELL_PAD_Y: f32 = 4.0;
const INDENT: f32 = 10.0;
const SIGNATURE_HEIGHT: f32 = 64.0;
/// The box is taller when it holds the image of the signature.
const SIGNATURE_WITH_IMAGE_HEIGHT: f32 = 110.0;
/// How much of a page a heading needs below it to stay on that page.
const KEEP_WITH_HEADING: f32 = 40.0;

/// Light gray behind labels (0 black … 255 white).
pub const LABEL_FILL: u8 = 236;

/// One drawing operation, in points from the top left of the page; text `y` is the baseline.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    Text {
        x: f32,
        y: f32,
        size: f32,
        text: String,
    },
    Line {
        from: (f32, f32),
        to: (f32, f32),
        width: f32,
    },
    Rect {
        x: f32,
        y: f32,
        w: f32,
        h: f32,
        /// Gray level to fill with.
        fill: Option<u8>,
        stroke: Option<f32>,
    },
    /// An image fitted into the box (`y` its top), proportions kept, centred.
    Image {
        x: f32,
        y: f32,
        w: f32,
        h: f32,
        picture: Picture,
    },
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Page {
    pub ops: Vec<Op>,
}

/// Breaks a text into lines no wider than `width` at `size`. Lines break where UAX #14 allows
/// (between any two kana or kanji, at spaces between words, never before 。、」); a run with
/// no allowed break that is wider than a line (a long number) is cut where it overflows.
pub fn wrap(face: &Typeface, text: &str, size: f32, width: f32) -> Vec<String> {
    let mut lines = Vec::new();
    for paragraph in text.split('\n') {
        wrap_paragraph(face, paragraph, size, width, &mut lines);
    }
    lines
}

fn wrap_paragraph(face: &Typeface, text: &str, size: f32, width: f32, out: &mut Vec<String>) {
    let allowed: Vec<usize> = unicode_linebreak::linebreaks(text)
        .map(|(at, _)| at)
        .filter(|&at| at < text.len())
        .collect();
    let mut start = 0;
    let mut used = 0.0;
    for (at, ch) in text.char_indices() {
        let advance = face.advance(ch) * size;
        if used + advance > width && at > start && !ch.is_whitespace() {
            let cut = allowed
                .iter()
                .rev()
                .find(|&&b| b > start && b <= at)
                .copied()
                .unwrap_or(at);
            out.push(text[start..cut].trim_end().to_owned());
            start = cut;
            used = face.width(&text[start..at], size);
        }
        used += advance;
    }
    out.push(text[start..].trim_end().to_owned());
}

struct Cursor<'a> {
    face: &'a Typeface,
    sheet: &'a Sheet,
    pages: Vec<Page>,
    y: f32,
}

impl Cursor<'_> {
    fn ops(&mut self) -> &mut Vec<Op> {
        if self.pages.is_empty() {
            self.pages.push(Page::default());
        }
        let last = self.pages.len() - 1;
        &mut self.pages[last].ops
    }

    fn text(&mut self, x: f32, y: f32, size: f32, text: &str) {
        let text = self.face.printable(text);
        if !text.is_empty() {
            self.ops().push(Op::Text { x, y, size, text });
        }
    }

    fn room(&self) -> f32 {
        BOTTOM - self.y
    }

    fn first_page(&mut self) {
        let sheet = self.sheet;
        self.pages.push(Page::default());
        let mut corner_y = TOP + SMALL_SIZE;
        for line in &sheet.corner {
            let w = self.face.width(line, SMALL_SIZE + 1.0);
            self.text(PAGE_WIDTH - MARGIN_X - w, corner_y, SMALL_SIZE + 1.0, line);
            corner_y += SMALL_SIZE + 4.0;
        }
        let corner_width = sheet
            .corner
            .iter()
            .map(|l| self.face.width(l, SMALL_SIZE + 1.0))
            .fold(0.0, f32::max);
        self.y = TOP;
        for line in wrap(
            self.face,
            &sheet.title,
            TITLE_SIZE,
            CONTENT_WIDTH - corner_width - 12.0,
        ) {
            self.y += TITLE_SIZE + 4.0;
            self.text(MARGIN_X, self.y, TITLE_SIZE, &line);
        }
        if let Some(subtitle) = &sheet.subtitle {
            for line in wrap(
                self.face,
                subtitle,
                SUBTITLE_SIZE,
                CONTENT_WIDTH - corner_width - 12.0,
            ) {
                self.y += SUBTITLE_SIZE + 5.0;
                self.text(MARGIN_X, self.y, SUBTITLE_SIZE, &line);
            }
        }
        self.y = self.y.max(corner_y - SMALL_SIZE) + 8.0;
        self.rule(1.2);
        self.y += 8.0;
        if let Some(banner) = &sheet.banner {
            let lines = wrap(self.face, banner, BODY_SIZE, CONTENT_WIDTH - 2.0 * 8.0);
            let h = lines.len() as f32 * BODY_LEADING + 2.0 * 6.0;
            let top = self.y;
            self.ops().push(Op::Rect {
                x: MARGIN_X,
                y: top,
                w: CONTENT_WIDTH,
                h,
                fill: Some(LABEL_FILL),
                stroke: Some(1.0),
            });
            let mut y = top + 6.0;
            for line in &lines {
                y += BODY_LEADING;
                self.text(MARGIN_X + 8.0, y - 3.5, BODY_SIZE, line);
            }
            self.y = top + h + 10.0;
        }
    }

    fn next_page(&mut self) {
        self.pages.push(Page::default());
        self.y = TOP + SMALL_SIZE + 1.0;
        let title = format!("{}(続き)", self.sheet.title);
        self.text(MARGIN_X, self.y, SMALL_SIZE + 1.0, &title);
        self.y += 6.0;
        self.rule(0.6);
        self.y += 8.0;
    }

    fn ensure(&mut self, height: f32) {
        if self.room() < height {
            self.next_page();
        }
    }

    fn rule(&mut self, width: f32) {
        let y = self.y;
        self.ops().push(Op::Line {
            from: (MARGIN_X, y),
            to: (PAGE_WIDTH - MARGIN_X, y),
            width,
        });
    }

    /// The frame of a labelled row: the shaded label cell and the value cell beside it.
    fn cells(&mut self, top: f32, h: f32, stroke: f32) {
        self.ops().push(Op::Rect {
            x: MARGIN_X,
            y: top,
            w: LABEL_WIDTH,
            h,
            fill: Some(LABEL_FILL),
            stroke: Some(stroke),
        });
        self.ops().push(Op::Rect {
            x: MARGIN_X + LABEL_WIDTH,
            y: top,
            w: CONTENT_WIDTH - LABEL_WIDTH,
            h,
            fill: None,
            stroke: Some(stroke),
        });
    }

    fn heading(&mut self, text: &str) {
        let lines = wrap(self.face, text, HEADING_SIZE, CONTENT_WIDTH);
        let needed = 8.0 + lines.len() as f32 * (HEADING_SIZE + 5.0) + 6.0 + KEEP_WITH_HEADING;
        self.ensure(needed);
        self.y += 8.0;
        for line in &lines {
            self.y += HEADING_SIZE + 5.0;
            self.text(MARGIN_X, self.y - 2.0, HEADING_SIZE, line);
        }
        self.y += 2.0;
        self.rule(0.8);
        self.y += 4.0;
    }

    /// Lines flowed down the page, each `leading` apart, continuing on new pages.
    fn flow(&mut self, lines: &[String], x: f32, size: f32, leading: f32) {
        for line in lines {
            self.ensure(leading);
            self.y += leading;
            self.text(x, self.y - (leading - size) / 2.0 - 1.0, size, line);
        }
    }

    fn row(&mut self, label: &str, value: &str, depth: u8) {
        let indent = f32::from(depth) * INDENT;
        let label_lines = wrap(
            self.face,
            label,
            BODY_SIZE,
            LABEL_WIDTH - 2.0 * CELL_PAD_X - indent,
        );
        let value_width = CONTENT_WIDTH - LABEL_WIDTH - 2.0 * CELL_PAD_X;
        let value_lines = wrap(self.face, value, BODY_SIZE, value_width);
        let total = label_lines.len().max(value_lines.len()).max(1);
        let mut done = 0;
        while done < total {
            let fit = ((self.room() - 2.0 * CELL_PAD_Y) / BODY_LEADING).floor();
            // A row starts on a new page rather than leave one line behind.
            let fit = if fit < 1.0 || (done == 0 && fit < total.min(2) as f32) {
                self.next_page();
                ((self.room() - 2.0 * CELL_PAD_Y) / BODY_LEADING).floor()
            } else {
                fit
            };
            let take = (fit.max(1.0) as usize).min(total - done);
            let h = take as f32 * BODY_LEADING + 2.0 * CELL_PAD_Y;
            let top = self.y;
            self.cells(top, h, 0.5);
            for i in 0..take {
                let baseline = top + CELL_PAD_Y + (i + 1) as f32 * BODY_LEADING - 3.5;
                if let Some(l) = label_lines.get(done + i) {
                    self.text(MARGIN_X + CELL_PAD_X + indent, baseline, BODY_SIZE, l);
                }
                if let Some(v) = value_lines.get(done + i) {
                    self.text(MARGIN_X + LABEL_WIDTH + CELL_PAD_X, baseline, BODY_SIZE, v);
                }
            }
            self.y = top + h;
            done += take;
        }
    }

    fn item(&mut self, text: &str, details: &[String]) {
        let lines = wrap(self.face, text, BODY_SIZE + 0.5, CONTENT_WIDTH - INDENT);
        let detail_lines: Vec<String> = details
            .iter()
            .flat_map(|d| wrap(self.face, d, DETAIL_SIZE, CONTENT_WIDTH - 2.0 * INDENT))
            .collect();
        let whole =
            4.0 + lines.len() as f32 * BODY_LEADING + detail_lines.len() as f32 * DETAIL_LEADING;
        if whole <= BOTTOM - TOP - 40.0 {
            self.ensure(whole);
        }
        self.y += 4.0;
        self.ensure(BODY_LEADING);
        let bullet_y = self.y + BODY_LEADING - (BODY_LEADING - BODY_SIZE) / 2.0 - 1.0;
        self.text(MARGIN_X, bullet_y, BODY_SIZE + 0.5, "・");
        self.flow(&lines, MARGIN_X + INDENT, BODY_SIZE + 0.5, BODY_LEADING);
        self.flow(
            &detail_lines,
            MARGIN_X + 2.0 * INDENT,
            DETAIL_SIZE,
            DETAIL_LEADING,
        );
    }

    fn signature(&mut self, label: &str, inside: Option<&str>, image: Option<&Picture>) {
        let height = if image.is_some() {
            SIGNATURE_WITH_IMAGE_HEIGHT
        } else {
            SIGNATURE_HEIGHT
        };
        self.ensure(height + 14.0);
        self.y += 10.0;
        let top = self.y;
        self.cells(top, height, 1.0);
        let label_lines = wrap(
            self.face,
            label,
            BODY_SIZE + 0.5,
            LABEL_WIDTH - 2.0 * CELL_PAD_X,
        );
        let mut y = top + CELL_PAD_Y;
        for l in &label_lines {
            y += BODY_LEADING;
            self.text(MARGIN_X + CELL_PAD_X, y - 3.5, BODY_SIZE + 0.5, l);
        }
        let x = MARGIN_X + LABEL_WIDTH + CELL_PAD_X;
        let w = CONTENT_WIDTH - LABEL_WIDTH - 2.0 * CELL_PAD_X;
        let mut y = top + CELL_PAD_Y;
        if let Some(inside) = inside {
            for l in &wrap(self.face, inside, DETAIL_SIZE, w) {
                y += DETAIL_LEADING;
                self.text(x, y - 3.0, DETAIL_SIZE, l);
            }
        }
        if let Some(picture) = image {
            let h = top + height - CELL_PAD_Y - (y + 2.0);
            if h > 0.0 {
                let picture = picture.clone();
                self.ops().push(Op::Image {
                    x,
                    y: y + 2.0,
                    w,
                    h,
                    picture,
                });
            }
        }
        self.y = top + height;
    }

    fn footers(&mut self) {
        let count = self.pages.len();
        let footer = self.face.printable(&self.sheet.footer);
        for (i, page) in self.pages.iter_mut().enumerate() {
            let number = format!("{} / {count}", i + 1);
            let w = self.face.width(&number, SMALL_SIZE);
            page.ops.push(Op::Line {
                from: (MARGIN_X, FOOTER_BASELINE - 12.0),
                to: (PAGE_WIDTH - MARGIN_X, FOOTER_BASELINE - 12.0),
                width: 0.4,
            });
            if !footer.is_empty() {
                page.ops.push(Op::Text {
                    x: MARGIN_X,
                    y: FOOTER_BASELINE,
                    size: SMALL_SIZE,
                    text: footer.clone(),
                });
            }
            page.ops.push(Op::Text {
                x: PAGE_WIDTH - MARGIN_X - w,
                y: FOOTER_BASELINE,
                size: SMALL_SIZE,
                text: number,
            });
        }
    }
}

/// The pages of one sheet.
pub fn lay_out(face: &Typeface, sheet: &Sheet) -> Vec<Page> {
    let mut c = Cursor {
        face,
        sheet,
        pages: Vec::new(),
        y: TOP,
    };
    c.first_page();
    for block in &sheet.blocks {
        match block {
            Block::Heading(t) => c.heading(t),
            Block::Row {
                label,
                value,
                depth,
            } => c.row(label, value, *depth),
            Block::Text(t) => {
                c.y += 4.0;
                let lines = wrap(face, t, BODY_SIZE, CONTENT_WIDTH);
                c.flow(&lines, MARGIN_X, BODY_SIZE, BODY_LEADING);
            }
            Block::Item { text, details } => c.item(text, details),
            Block::Signature {
                label,
                inside,
                image,
            } => c.signature(label, inside.as_deref(), image.as_ref()),
        }
    }
    c.footers();
    c.pages
}

#[cfg(test)]
mod tests {
    use super::*;

    fn face() -> Typeface {
        Typeface::embedded().unwrap()
    }

    #[test]
    fn japanese_breaks_between_characters_but_never_before_closing_punctuation() {
        let f = face();
        // Ten full-width characters per line at 10 pt in 100 pt.
        let lines = wrap(&f, "あいうえおかきくけこ。さしすせそ", 10.0, 100.0);
        assert_eq!(lines, vec!["あいうえおかきくけ", "こ。さしすせそ"]);
        for l in &lines {
            assert!(f.width(l, 10.0) <= 100.0 + 0.01);
        }
    }

    #[test]
    fn latin_words_stay_whole_and_a_long_number_is_cut_where_it_overflows() {
        let f = face();
        let lines = wrap(&f, "Sapporo Chuo-ku Kita 1-jo", 10.0, 60.0);
        assert!(lines.iter().all(|l| !l.starts_with(' ')));
        assert_eq!(lines.join(" "), "Sapporo Chuo-ku Kita 1-jo");
        let digits = "1234567890123456789012345";
        let lines = wrap(&f, digits, 10.0, 50.0);
        assert_eq!(lines.concat(), digits);
        assert!(lines.iter().all(|l| f.width(l, 10.0) <= 50.01));
    }

    #[test]
    fn a_sheet_longer_than_a_page_continues_and_numbers_its_pages() {
        let f = face();
        let sheet = Sheet {
            title: "受付票".into(),
            footer: "北見市".into(),
            blocks: (0..80)
                .map(|i| Block::Row {
                    label: format!("項目{i}"),
                    value: "値".into(),
                    depth: 0,
                })
                .collect(),
            ..Default::default()
        };
        let pages = lay_out(&f, &sheet);
        assert!(pages.len() >= 2);
        let texts = |p: &Page| -> Vec<String> {
            p.ops
                .iter()
                .filter_map(|o| match o {
                    Op::Text { text, .. } => Some(text.clone()),
                    _ => None,
                })
                .collect()
        };
        let last = texts(&pages[pages.len() - 1]);
        assert!(last.contains(&format!("{n} / {n}", n = pages.len())));
        assert!(texts(&pages[1]).contains(&"受付票(続き)".to_owned()));
        // Every row is printed once, and nothing is drawn below the content area but the footer.
        let all: Vec<String> = pages.iter().flat_map(texts).collect();
        assert_eq!(all.iter().filter(|t| t.starts_with("項目")).count(), 80);
        for p in &pages {
            for o in &p.ops {
                if let Op::Rect { y, h, .. } = o {
                    assert!(y + h <= BOTTOM + 0.01);
                }
            }
        }
    }

    #[test]
    fn the_signature_image_is_drawn_inside_the_signature_box_below_its_note() {
        let f = face();
        let picture = Picture {
            format: super::super::PictureFormat::Png,
            bytes: std::sync::Arc::new(Vec::new()),
        };
        let sheet = Sheet {
            title: "届書".into(),
            blocks: vec![Block::Signature {
                label: "届出人 署名".into(),
                inside: Some("署名済み".into()),
                image: Some(picture),
            }],
            ..Default::default()
        };
        let pages = lay_out(&f, &sheet);
        let ops = &pages[0].ops;
        let (bx, by, bw, bh) = ops
            .iter()
            .filter_map(|o| match o {
                Op::Rect { x, y, w, h, .. } if *h >= SIGNATURE_WITH_IMAGE_HEIGHT - 0.01 => {
                    Some((*x, *y, *w, *h))
                }
                _ => None,
            })
            .next_back()
            .expect("the signature box");
        let note_y = ops
            .iter()
            .find_map(|o| match o {
                Op::Text { y, text, .. } if text == "署名済み" => Some(*y),
                _ => None,
            })
            .expect("the note");
        let Some(Op::Image { x, y, w, h, .. }) = ops.iter().find(|o| matches!(o, Op::Image { .. }))
        else {
            panic!("no image drawn");
        };
        assert!(*y > note_y, "below the note");
        assert!(
            *x >= bx && x + w <= bx + bw + 0.01,
            "within the box's width"
        );
        assert!(
            *y >= by && y + h <= by + bh + 0.01,
            "within the box's height"
        );
        assert!(*h > 40.0, "room to see the signature: {h}");
    }
}
