//! A lenient BER-TLV reader for what the My Number card returns. The card is not DER: tags in
//! long form (`FF 20`), lengths in non-minimal long form (`82 00 9F`), `FF` filler after the
//! data. Every length is bounded by the bytes actually present and nothing is allocated from a
//! length the data claims: a value is a slice of the input.
//!
//! Written by hand rather than with a DER crate (`der`, `x509-parser`'s BER): those refuse
//! exactly the non-minimal encodings real cards use.

/// Tags are at most this long (the card's are 1 or 2 bytes).
const MAX_TAG_BYTES: usize = 4;
/// Lengths take at most this many bytes after `8x` (a 4 GiB value: more than any card holds).
const MAX_LENGTH_BYTES: usize = 4;

/// One TLV inside a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tlv<'a> {
    /// The tag bytes as a number: `FF20`, `DF21`, `7F21`, `5F4E`, `90` …
    pub tag: u32,
    pub value: &'a [u8],
    /// The whole TLV as it was encoded (tag, length and value).
    pub raw: &'a [u8],
    /// Where `raw` starts in the buffer given to [`Reader::new`].
    pub offset: usize,
    /// Where `value` starts in that buffer.
    pub value_offset: usize,
}

impl<'a> Tlv<'a> {
    /// The TLVs inside this one's value (offsets still counted from the outer buffer).
    pub fn children(&self) -> Reader<'a> {
        Reader {
            buf: self.value,
            at: 0,
            base: self.value_offset,
            done: false,
        }
    }

    /// Constructed (bit 6 of the first tag byte): its value is more TLVs.
    pub fn constructed(&self) -> bool {
        self.raw.first().is_some_and(|b| b & 0x20 != 0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TlvError {
    #[error("the data ends inside a TLV header at byte {at}")]
    Truncated { at: usize },
    #[error("the TLV at byte {at} claims {claimed} bytes but only {present} follow")]
    Overrun {
        at: usize,
        claimed: usize,
        present: usize,
    },
    #[error("the tag at byte {at} is longer than {MAX_TAG_BYTES} bytes")]
    TagTooLong { at: usize },
    #[error("the length at byte {at} uses an unsupported form ({form:#04x})")]
    BadLength { at: usize, form: u8 },
}

/// Filler after the data: the card pads a file with `FF`, and a dump may carry zeros where a
/// reader returned them. Neither is parsed into anything.
pub fn is_filler(b: u8) -> bool {
    b == 0xFF || b == 0x00
}

/// The TLVs one after another in a buffer, up to its end or to filler (only `FF` or `00`
/// bytes left).
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    at: usize,
    /// Offset of `buf` in the outermost buffer.
    base: usize,
    done: bool,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Reader {
            buf,
            at: 0,
            base: 0,
            done: false,
        }
    }

    /// A reader over `buf`, which starts at `base` in the outermost buffer.
    pub fn at(buf: &'a [u8], base: usize) -> Self {
        Reader {
            buf,
            at: 0,
            base,
            done: false,
        }
    }

    /// The one TLV at the start of the buffer, whatever follows it (no filler rule: inside a
    /// record, `FF` is the start of a tag, not filler).
    pub fn read_one(mut self) -> Result<Tlv<'a>, TlvError> {
        self.read()
    }

    /// The first TLV with `tag` at this level.
    pub fn find(self, tag: u32) -> Result<Option<Tlv<'a>>, TlvError> {
        for tlv in self {
            let tlv = tlv?;
            if tlv.tag == tag {
                return Ok(Some(tlv));
            }
        }
        Ok(None)
    }

    fn read(&mut self) -> Result<Tlv<'a>, TlvError> {
        let buf = self.buf;
        let start = self.at;
        let at = |i: usize| self.base + i;
        let mut i = start;
        let first = *buf.get(i).ok_or(TlvError::Truncated { at: at(i) })?;
        let mut tag = u32::from(first);
        i += 1;
        if first & 0x1F == 0x1F {
            loop {
                let b = *buf.get(i).ok_or(TlvError::Truncated { at: at(i) })?;
                if i - start >= MAX_TAG_BYTES {
                    return Err(TlvError::TagTooLong { at: at(start) });
                }
                tag = (tag << 8) | u32::from(b);
                i += 1;
                if b & 0x80 == 0 {
                    break;
                }
            }
        }
        let form = *buf.get(i).ok_or(TlvError::Truncated { at: at(i) })?;
        i += 1;
        let length = match form {
            0x00..=0x7F => usize::from(form),
            0x81..=0x84 => {
                let n = usize::from(form & 0x7F);
                if n > MAX_LENGTH_BYTES {
                    return Err(TlvError::BadLength {
                        at: at(i - 1),
                        form,
                    });
                }
                let bytes = buf.get(i..i + n).ok_or(TlvError::Truncated { at: at(i) })?;
                i += n;
                bytes
                    .iter()
                    .fold(0usize, |acc, b| (acc << 8) | usize::from(*b))
            }
            // 0x80 is the indefinite form, which the card does not use; 0x85.. are too long.
            _ => {
                return Err(TlvError::BadLength {
                    at: at(i - 1),
                    form,
                });
            }
        };
        let present = buf.len() - i;
        if length > present {
            return Err(TlvError::Overrun {
                at: at(start),
                claimed: length,
                present,
            });
        }
        let end = i + length;
        self.at = end;
        Ok(Tlv {
            tag,
            value: &buf[i..end],
            raw: &buf[start..end],
            offset: at(start),
            value_offset: at(i),
        })
    }
}

impl<'a> Iterator for Reader<'a> {
    type Item = Result<Tlv<'a>, TlvError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let rest = &self.buf[self.at.min(self.buf.len())..];
        if rest.iter().all(|&b| is_filler(b)) {
            self.done = true;
            return None;
        }
        let item = self.read();
        if item.is_err() {
            self.done = true;
        }
        Some(item)
    }
}

/// Encodes a TLV (minimal DER lengths): for the synthetic card and tests.
pub fn encode(tag: u32, value: &[u8]) -> Vec<u8> {
    let mut out = tag_bytes(tag);
    out.extend(length_bytes(value.len()));
    out.extend_from_slice(value);
    out
}

pub fn tag_bytes(tag: u32) -> Vec<u8> {
    let bytes = tag.to_be_bytes();
    let skip = bytes.iter().take(3).take_while(|b| **b == 0).count();
    bytes[skip..].to_vec()
}

pub fn length_bytes(len: usize) -> Vec<u8> {
    if len < 0x80 {
        vec![len as u8]
    } else {
        let bytes = (len as u32).to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        let mut out = vec![0x80 | (4 - skip) as u8];
        out.extend_from_slice(&bytes[skip..]);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn reads_the_card_s_long_tags_non_minimal_lengths_and_filler() {
        // FF20 with a non-minimal length (82 00 0B) holding DF22 "山" and DF25 "1", then filler.
        let mut data = vec![0xFF, 0x20, 0x82, 0x00, 0x0B];
        data.extend([0xDF, 0x22, 0x03]);
        data.extend("山".as_bytes());
        data.extend([0xDF, 0x25, 0x01, b'1']);
        data.extend([0xFF, 0xFF, 0xFF]);
        let all: Vec<Tlv> = Reader::new(&data).map(Result::unwrap).collect();
        assert_eq!(all.len(), 1);
        let record = all[0];
        assert_eq!(record.tag, 0xFF20);
        assert!(record.constructed());
        assert_eq!(record.value_offset, 5);
        let inner: Vec<Tlv> = record.children().map(Result::unwrap).collect();
        assert_eq!(inner[0].tag, 0xDF22);
        assert_eq!(inner[0].value, "山".as_bytes());
        assert_eq!(inner[0].offset, 5, "offsets count from the outer buffer");
        assert_eq!(inner[1].tag, 0xDF25);
        assert_eq!(inner[1].value, b"1");
        assert_eq!(
            record
                .children()
                .find(0xDF25)
                .unwrap()
                .unwrap()
                .value_offset,
            14
        );
    }

    #[test]
    fn a_length_past_the_data_is_an_error_not_a_read() {
        let data = [0xDF, 0x22, 0x84, 0xFF, 0xFF, 0xFF, 0xF0, 0x41];
        let err = Reader::new(&data).next().unwrap().unwrap_err();
        assert_eq!(
            err,
            TlvError::Overrun {
                at: 0,
                claimed: 0xFFFF_FFF0,
                present: 1
            }
        );
        assert!(matches!(
            Reader::new(&[0x5F, 0x80, 0x80, 0x80, 0x01, 0x00]).next(),
            Some(Err(TlvError::TagTooLong { .. }))
        ));
        assert!(matches!(
            Reader::new(&[0x30, 0x80, 0x00, 0x00]).next(),
            Some(Err(TlvError::BadLength { form: 0x80, .. }))
        ));
        assert!(matches!(
            Reader::new(&[0x30, 0x82, 0x01]).next(),
            Some(Err(TlvError::Truncated { .. }))
        ));
    }

    /// Every TLV of a buffer, recursively, as far as it reads.
    fn walk(reader: Reader<'_>, depth: usize, seen: &mut usize) {
        for tlv in reader {
            let Ok(tlv) = tlv else { return };
            *seen += 1;
            assert!(tlv.value.len() <= tlv.raw.len());
            if depth < 8 && tlv.constructed() {
                walk(tlv.children(), depth + 1, seen);
            }
        }
    }

    #[derive(Debug, Clone)]
    enum Node {
        Leaf(u32, Vec<u8>),
        Tree(u32, Vec<Node>),
    }

    fn node() -> impl Strategy<Value = Node> {
        let primitive_tag = prop_oneof![Just(0x90u32), Just(0xDF22), Just(0x5F4E), Just(0x04)];
        let constructed_tag = prop_oneof![Just(0xFF20u32), Just(0x7F21), Just(0x30)];
        let leaf = (
            primitive_tag,
            proptest::collection::vec(any::<u8>(), 0..300),
        )
            .prop_map(|(t, v)| Node::Leaf(t, v));
        leaf.prop_recursive(3, 24, 4, move |inner| {
            (
                constructed_tag.clone(),
                proptest::collection::vec(inner, 1..4),
            )
                .prop_map(|(t, kids)| Node::Tree(t, kids))
        })
    }

    /// Encodes with a non-minimal length where `pad` says so, as cards do.
    fn encode_node(n: &Node, pad: bool) -> Vec<u8> {
        let (tag, value) = match n {
            Node::Leaf(t, v) => (*t, v.clone()),
            Node::Tree(t, kids) => (*t, kids.iter().flat_map(|k| encode_node(k, pad)).collect()),
        };
        let mut out = tag_bytes(tag);
        if pad {
            out.push(0x84);
            out.extend((value.len() as u32).to_be_bytes());
        } else {
            out.extend(length_bytes(value.len()));
        }
        out.extend(value);
        out
    }

    fn matches(n: &Node, tlv: &Tlv) -> bool {
        match n {
            Node::Leaf(t, v) => tlv.tag == *t && tlv.value == v.as_slice(),
            Node::Tree(t, kids) => {
                let read: Vec<Tlv> = tlv.children().map(Result::unwrap).collect();
                tlv.tag == *t
                    && read.len() == kids.len()
                    && kids.iter().zip(&read).all(|(k, r)| matches(k, r))
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Arbitrary bytes: never a panic, never a value outside the input.
        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let mut seen = 0;
            walk(Reader::new(&data), 0, &mut seen);
            prop_assert!(seen <= data.len());
        }

        /// What we encode (minimal or padded lengths) reads back as it was.
        #[test]
        fn encoded_trees_read_back(n in node(), pad in any::<bool>(), filler in 0usize..4) {
            let mut data = encode_node(&n, pad);
            data.extend(std::iter::repeat_n(0xFF, filler));
            let read: Vec<Tlv> = Reader::new(&data).map(Result::unwrap).collect();
            prop_assert_eq!(read.len(), 1);
            prop_assert!(matches(&n, &read[0]));
        }
    }
}
