//! The one typeface printouts are set in, embedded in the binary so that a machine with no
//! Japanese font installed prints the same pages: BIZ UDゴシック (Morisawa's universal-design
//! Gothic, SIL Open Font License 1.1, see `fonts/OFL.txt`), made for public documents.
//!
//! Only the glyphs a PDF uses are embedded in it (krilla subsets the font).

use skrifa::instance::{LocationRef, Size};
use skrifa::metrics::GlyphMetrics;
use skrifa::{FontRef, MetadataProvider};

static FONT: &[u8] = include_bytes!("fonts/BIZUDGothic-Regular.ttf");

/// The font file itself, for the console's pages (the same face on screen as on paper).
pub fn font_file() -> &'static [u8] {
    FONT
}

/// What is printed for a character the typeface has no glyph for (〓, the 下駄記号 that
/// Japanese typesetting uses for exactly that).
pub const MISSING: char = '〓';

pub struct Typeface {
    pub(super) font: krilla::text::Font,
    charmap: skrifa::charmap::Charmap<'static>,
    metrics: GlyphMetrics<'static>,
    /// Advance of 〓 per unit of font size: what a missing character takes up.
    missing_advance: f32,
}

impl std::fmt::Debug for Typeface {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Typeface(BIZ UDGothic)")
    }
}

/// A character as it will be printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coverage {
    /// The typeface draws it.
    Drawn,
    /// Takes no room and draws nothing of its own (variation selectors, joiners).
    Invisible,
    /// Printed as 〓.
    Missing,
}

impl Typeface {
    /// The embedded typeface. `None` only if the font in the binary cannot be read, which
    /// start-up reports.
    pub fn embedded() -> Option<Self> {
        let font_ref = FontRef::new(FONT).ok()?;
        let charmap = font_ref.charmap();
        // At 1 pixel per em, advances come out per unit of font size.
        let metrics = font_ref.glyph_metrics(Size::new(1.0), LocationRef::default());
        let missing_advance = metrics.advance_width(charmap.map(MISSING)?)?;
        let font = krilla::text::Font::new(FONT.into(), 0)?;
        Some(Typeface {
            font,
            charmap,
            metrics,
            missing_advance,
        })
    }

    pub fn coverage(&self, ch: char) -> Coverage {
        if is_invisible(ch) {
            Coverage::Invisible
        } else if self.charmap.map(ch).is_some() {
            Coverage::Drawn
        } else {
            Coverage::Missing
        }
    }

    /// Width of a character per unit of font size.
    pub fn advance(&self, ch: char) -> f32 {
        match self.coverage(ch) {
            Coverage::Invisible => 0.0,
            Coverage::Missing => self.missing_advance,
            Coverage::Drawn => self
                .charmap
                .map(ch)
                .and_then(|g| self.metrics.advance_width(g))
                .unwrap_or(self.missing_advance),
        }
    }

    /// Width of a text at a font size.
    pub fn width(&self, text: &str, size: f32) -> f32 {
        text.chars().map(|c| self.advance(c)).sum::<f32>() * size
    }

    /// The text as it can be drawn: characters without a glyph become 〓; a variation
    /// selector stays only where the typeface has that variant (else the base glyph shows);
    /// other invisible characters are dropped.
    pub fn printable(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut previous: Option<char> = None;
        for ch in text.chars() {
            match self.coverage(ch) {
                Coverage::Drawn => out.push(ch),
                Coverage::Missing => out.push(MISSING),
                Coverage::Invisible => {
                    let variant = is_variation_selector(ch)
                        && previous.is_some_and(|p| self.charmap.map_variant(p, ch).is_some());
                    if variant {
                        out.push(ch);
                    }
                }
            }
            previous = Some(ch);
        }
        out
    }

    /// The characters of a text printed as 〓.
    pub fn missing_in<'a>(&'a self, text: &'a str) -> impl Iterator<Item = char> + 'a {
        text.chars()
            .filter(move |&c| self.coverage(c) == Coverage::Missing)
    }
}

fn is_variation_selector(ch: char) -> bool {
    matches!(ch, '\u{FE00}'..='\u{FE0F}' | '\u{E0100}'..='\u{E01EF}')
}

/// Characters that take no room: variation selectors (the IVS of names), joiners.
fn is_invisible(ch: char) -> bool {
    is_variation_selector(ch) || matches!(ch, '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn face() -> Typeface {
        Typeface::embedded().unwrap()
    }

    #[test]
    fn the_embedded_font_draws_kana_kanji_and_the_jis_level_2_name_characters() {
        let f = face();
        // JIS X 0208 and X 0213 (𡈽 is on its plane 2), 11,741 characters in all.
        for ch in "山田花子ヤマダハナコ髙﨑𡈽渡邉邊齋々〒ー－０１２ＡＢ①".chars()
        {
            assert_eq!(f.coverage(ch), Coverage::Drawn, "{ch}");
        }
        // Full-width characters take one em, half-width ones half of it.
        assert!((f.advance('山') - 1.0).abs() < 0.01);
        assert!((f.advance('1') - 0.5).abs() < 0.01);
    }

    #[test]
    fn private_use_characters_print_as_geta_and_selectors_take_no_room() {
        let f = face();
        // 𠮷 (つちよし) is in neither JIS X 0208 nor X 0213, so not in this font.
        assert_eq!(f.printable("𠮷田"), "〓田");
        let gaiji = '\u{F0000}';
        assert_eq!(f.coverage(gaiji), Coverage::Missing);
        assert_eq!(f.printable("山\u{F0000}田"), "山〓田");
        assert_eq!(
            f.missing_in("山\u{F0000}田").collect::<Vec<_>>(),
            vec![gaiji]
        );
        assert_eq!(f.advance('\u{E0100}'), 0.0);
        assert_eq!(f.width("葛\u{E0100}", 10.0), f.width("葛", 10.0));
        // The font has the Adobe-Japan1 variants of 葛: the selector stays and picks the glyph;
        // one it lacks is dropped and the base glyph prints.
        assert_eq!(f.printable("葛\u{E0100}"), "葛\u{E0100}");
        assert_eq!(f.printable("山\u{E01EF}"), "山");
    }
}
