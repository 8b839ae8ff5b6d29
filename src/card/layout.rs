//! The exact layout of a card file, as the issuer writes it: one record at byte 0, nothing but
//! filler after it, and inside the record exactly the expected TLVs, each once, in order.
//!
//! This is what lets [`super::verify`] keep its rule that a value is reported only if a verified
//! signature covers the exact bytes it was parsed from: a reader that took "the first DF23
//! anywhere" would let a tampered counter PC put an unsigned DF23 before the signed one. Here a
//! tag that is missing, repeated, out of place or unknown, a length that runs past its record,
//! and data after the record are each refused with a reason.

use super::tlv::{Reader, Tlv, TlvError, is_filler};

/// Why a file does not have the issuer's layout.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LayoutError {
    #[error(transparent)]
    Tlv(#[from] TlvError),
    #[error("the file is empty")]
    Empty,
    #[error("the file starts with tag {found:04X}, not {expected:04X}")]
    WrongRecord { expected: u32, found: u32 },
    #[error(
        "{count} bytes of data follow the {record:04X} record at byte {at} (only FF filler may)"
    )]
    TrailingData {
        record: u32,
        at: usize,
        count: usize,
    },
    #[error("{tag:04X} appears twice in {record:04X} (at bytes {first} and {second})")]
    Duplicate {
        record: u32,
        tag: u32,
        first: usize,
        second: usize,
    },
    #[error("{found:04X} at byte {at} is not where {record:04X} has it (expected {expected})")]
    OutOfPlace {
        record: u32,
        found: u32,
        at: usize,
        expected: String,
    },
    #[error("{record:04X} has no {tag:04X}")]
    Missing { record: u32, tag: u32 },
}

/// A field of a record: its tag, and whether a card may leave it out.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    pub tag: u32,
    pub optional: bool,
}

pub const fn required(tag: u32) -> Field {
    Field {
        tag,
        optional: false,
    }
}

pub const fn optional(tag: u32) -> Field {
    Field {
        tag,
        optional: true,
    }
}

/// The record with `tag` that the file is: at byte 0, followed by nothing but filler.
pub fn record(file: &[u8], tag: u32) -> Result<Tlv<'_>, LayoutError> {
    let first = Reader::new(file).next().ok_or(LayoutError::Empty)??;
    if first.tag != tag {
        return Err(LayoutError::WrongRecord {
            expected: tag,
            found: first.tag,
        });
    }
    let end = first.raw.len();
    let rest = &file[end..];
    if let Some(offset) = rest.iter().position(|b| !is_filler(*b)) {
        return Err(LayoutError::TrailingData {
            record: tag,
            at: end + offset,
            count: rest.len() - offset,
        });
    }
    Ok(first)
}

/// The TLVs of `value` (the value of `record`, starting at `base` in the file), which must be
/// exactly `fields` in that order, optional ones left out or not, and nothing else — no
/// filler either: a card writes none inside a record.
pub fn fields<'a>(
    value: &'a [u8],
    base: usize,
    record: u32,
    fields: &[Field],
) -> Result<Vec<Option<Tlv<'a>>>, LayoutError> {
    let mut out: Vec<Option<Tlv<'a>>> = vec![None; fields.len()];
    let mut next = 0usize;
    let mut at = 0usize;
    while at < value.len() {
        // Read one TLV at `at` (the reader's filler rule does not apply inside a record).
        let tlv = Reader::at(&value[at..], base + at).read_one()?;
        let tag = tlv.tag;
        if let Some(i) = fields.iter().position(|f| f.tag == tag) {
            if let Some(earlier) = &out[i] {
                return Err(LayoutError::Duplicate {
                    record,
                    tag,
                    first: earlier.offset,
                    second: tlv.offset,
                });
            }
            if i < next {
                return Err(LayoutError::OutOfPlace {
                    record,
                    found: tag,
                    at: tlv.offset,
                    expected: format!("before {:04X}", fields[next - 1].tag),
                });
            }
            if let Some(skipped) = fields[next..i].iter().find(|f| !f.optional) {
                return Err(LayoutError::OutOfPlace {
                    record,
                    found: tag,
                    at: tlv.offset,
                    expected: format!("after {:04X}", skipped.tag),
                });
            }
            out[i] = Some(tlv);
            next = i + 1;
        } else {
            return Err(LayoutError::OutOfPlace {
                record,
                found: tag,
                at: tlv.offset,
                expected: "no such tag in this record".to_owned(),
            });
        }
        at += tlv.raw.len();
    }
    if let Some(f) = fields[next..].iter().find(|f| !f.optional) {
        return Err(LayoutError::Missing { record, tag: f.tag });
    }
    Ok(out)
}

/// The fields of a record read with [`fields`] where every one is required.
pub fn required_fields<'a, const N: usize>(
    record_tlv: &Tlv<'a>,
    tags: [u32; N],
) -> Result<[Tlv<'a>; N], LayoutError> {
    let read = fields(
        record_tlv.value,
        record_tlv.value_offset,
        record_tlv.tag,
        &tags.map(required),
    )?;
    let read: Vec<Tlv<'a>> = read
        .into_iter()
        .zip(tags)
        .map(|(t, tag)| {
            t.ok_or(LayoutError::Missing {
                record: record_tlv.tag,
                tag,
            })
        })
        .collect::<Result<_, _>>()?;
    <[Tlv<'a>; N]>::try_from(read).map_err(|_| LayoutError::Missing {
        record: record_tlv.tag,
        tag: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::card::tlv::encode;

    fn ff20(children: &[Vec<u8>]) -> Vec<u8> {
        encode(0xFF20, &children.concat())
    }

    const FOUR: [u32; 3] = [0xDF21, 0xDF22, 0xDF23];

    #[test]
    fn exactly_the_fields_in_order_read_and_anything_else_is_refused_by_name() {
        let good = ff20(&[
            encode(0xDF21, b"o"),
            encode(0xDF22, b"a"),
            encode(0xDF23, b"b"),
        ]);
        let mut file = good.clone();
        file.extend([0xFF; 4]);
        let r = record(&file, 0xFF20).unwrap();
        let [o, a, b] = required_fields(&r, FOUR).unwrap();
        assert_eq!(
            (o.value, a.value, b.value),
            (&b"o"[..], &b"a"[..], &b"b"[..])
        );

        // A second DF22 before the first: what a tampered PC would add.
        let dup = ff20(&[
            encode(0xDF21, b"o"),
            encode(0xDF22, b"x"),
            encode(0xDF22, b"a"),
            encode(0xDF23, b"b"),
        ]);
        let r = record(&dup, 0xFF20).unwrap();
        assert!(matches!(
            required_fields(&r, FOUR),
            Err(LayoutError::Duplicate { tag: 0xDF22, .. })
        ));
        // DF23 before DF22.
        let swapped = ff20(&[
            encode(0xDF21, b"o"),
            encode(0xDF23, b"b"),
            encode(0xDF22, b"a"),
        ]);
        let r = record(&swapped, 0xFF20).unwrap();
        assert!(matches!(
            required_fields(&r, FOUR),
            Err(LayoutError::OutOfPlace { found: 0xDF23, .. })
        ));
        // An unknown tag, a missing one, filler inside the record.
        for (children, want) in [
            (
                vec![
                    encode(0xDF21, b"o"),
                    encode(0xDF30, b"?"),
                    encode(0xDF22, b"a"),
                ],
                "OutOfPlace",
            ),
            (vec![encode(0xDF21, b"o"), encode(0xDF22, b"a")], "Missing"),
            (
                vec![
                    encode(0xDF21, b"o"),
                    encode(0xDF22, b"a"),
                    encode(0xDF23, b"b"),
                    vec![0xFF, 0xFF],
                ],
                "Tlv",
            ),
        ] {
            let f = ff20(&children);
            let r = record(&f, 0xFF20).unwrap();
            let err = required_fields(&r, FOUR).unwrap_err();
            assert!(format!("{err:?}").starts_with(want), "{err:?}");
        }
        // Data after the record, and another record first.
        let mut trailing = good.clone();
        trailing.extend([0xFF, 0xDF, 0x23, 0x01, b'x']);
        assert!(matches!(
            record(&trailing, 0xFF20),
            Err(LayoutError::TrailingData { at, count: 4, .. }) if at == good.len() + 1
        ));
        let mut two = encode(0xDF23, b"x");
        two.extend(&good);
        assert!(matches!(
            record(&two, 0xFF20),
            Err(LayoutError::WrongRecord { found: 0xDF23, .. })
        ));
        assert_eq!(record(&[], 0xFF20).unwrap_err(), LayoutError::Empty);
    }

    #[test]
    fn optional_fields_may_be_left_out_but_not_moved() {
        let spec = [required(0xDF28), optional(0xDF29), optional(0xDF2A)];
        for children in [
            vec![encode(0xDF28, b"s")],
            vec![encode(0xDF28, b"s"), encode(0xDF2A, b"c")],
            vec![
                encode(0xDF28, b"s"),
                encode(0xDF29, b"e"),
                encode(0xDF2A, b"c"),
            ],
        ] {
            let v = children.concat();
            assert!(fields(&v, 0, 0xFF20, &spec).is_ok());
        }
        let v = [
            encode(0xDF28, b"s"),
            encode(0xDF2A, b"c"),
            encode(0xDF29, b"e"),
        ]
        .concat();
        assert!(matches!(
            fields(&v, 0, 0xFF20, &spec),
            Err(LayoutError::OutOfPlace { found: 0xDF29, .. })
        ));
        let v = encode(0xDF29, b"e");
        assert!(matches!(
            fields(&v, 0, 0xFF20, &spec),
            Err(LayoutError::OutOfPlace { found: 0xDF29, .. })
        ));
    }
}
