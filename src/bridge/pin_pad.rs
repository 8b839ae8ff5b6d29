//! A reader's own PIN pad (PC/SC Part 10, "secure PIN entry"): the resident types the PIN on
//! the reader, which builds the VERIFY itself, so the PIN passes through neither the counter
//! PC's memory nor the bridge. The bridge asks the reader which features it has
//! (`CM_IOCTL_GET_FEATURE_REQUEST`, a list of tag, length 4, control code), and when it has
//! `FEATURE_VERIFY_PIN_DIRECT` sends a `PIN_VERIFY_STRUCTURE` instead of a VERIFY.
//!
//! Written by hand: the structure is 19 bytes plus the APDU, and no maintained crate builds it.

/// The Part 10 feature tag for PIN entry on the reader.
pub const FEATURE_VERIFY_PIN_DIRECT: u8 = 0x06;
/// The control function number of `CM_IOCTL_GET_FEATURE_REQUEST` (`SCARD_CTL_CODE(3400)`).
pub const GET_FEATURE_REQUEST: u32 = 3400;

/// The My Number card's PINs for kenhojo and JPKI 利用者証明用 are 4 ASCII digits.
const PIN_DIGITS: u8 = 4;
/// Japanese, for the reader's display (`wLangId`).
const LANG_JAPANESE: u16 = 0x0411;

/// The control code of `feature` in the reader's answer to `GET_FEATURE_REQUEST`: entries of
/// tag (1 byte), length (4) and the code (big-endian). Anything malformed ends the list.
pub fn feature_code(features: &[u8], feature: u8) -> Option<u32> {
    let mut rest = features;
    while let [tag, len, tail @ ..] = rest {
        let len = usize::from(*len);
        let value = tail.get(..len)?;
        if *tag == feature {
            return <[u8; 4]>::try_from(value).ok().map(u32::from_be_bytes);
        }
        rest = &tail[len..];
    }
    None
}

/// The `PIN_VERIFY_STRUCTURE` for VERIFY (`00 20 00 p2`) of a 4-digit ASCII PIN, waiting up
/// to `timeout_seconds` for the resident (all multi-byte fields little-endian).
pub fn verify_structure(p2: u8, timeout_seconds: u8) -> Vec<u8> {
    // The APDU the reader completes: header, Lc and a PIN block it overwrites.
    let apdu = [0x00, 0x20, 0x00, p2, PIN_DIGITS, 0x00, 0x00, 0x00, 0x00];
    let mut s = vec![
        timeout_seconds, // bTimerOut: for the first key
        timeout_seconds, // bTimerOut2: between keys
        // bmFormatString: units of bytes, PIN at offset 0 of the block, left-justified,
        // ASCII.
        0x82,
        PIN_DIGITS, // bmPINBlockString: no length field, a block of 4 bytes
        0x00,       // bmPINLengthFormat: no length in the APDU
    ];
    // wPINMaxExtraDigit: minimum and maximum digits (0x0404).
    s.extend(u16::from_be_bytes([PIN_DIGITS, PIN_DIGITS]).to_le_bytes());
    s.push(0x02); // bEntryValidationCondition: the OK key
    s.push(0x01); // bNumberMessage: one message
    s.extend(LANG_JAPANESE.to_le_bytes());
    s.push(0x00); // bMsgIndex
    s.extend([0x00, 0x00, 0x00]); // bTeoPrologue
    s.extend(u32::try_from(apdu.len()).unwrap_or(9).to_le_bytes()); // ulDataLength
    s.extend(apdu);
    s
}

/// What a PIN-pad reader does with the structure and the keys pressed: the VERIFY APDU to
/// send to the card. The virtual reader uses it; `None` for a structure it cannot read or a
/// PIN that does not fit the block.
pub fn complete(structure: &[u8], pin: &str) -> Option<Vec<u8>> {
    let format = *structure.get(2)?;
    let block = usize::from(*structure.get(3)? & 0x0F);
    let min = usize::from(*structure.get(6)?);
    let max = usize::from(*structure.get(5)?);
    let len = usize::try_from(u32::from_le_bytes(structure.get(15..19)?.try_into().ok()?)).ok()?;
    let mut apdu = structure.get(19..19 + len)?.to_vec();
    // Only what verify_structure asks for: bytes, ASCII, left-justified.
    if format & 0x83 != 0x82 || format & 0x04 != 0 {
        return None;
    }
    let offset = usize::from((format >> 3) & 0x0F);
    if pin.len() < min || pin.len() > max || pin.len() > block || apdu.len() < 5 + offset + block {
        return None;
    }
    let start = 5 + offset;
    apdu[start..start + pin.len()].copy_from_slice(pin.as_bytes());
    Some(apdu)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::card::apdu::Command;

    #[test]
    fn the_feature_list_gives_the_pin_verify_code_and_ends_at_a_malformed_entry() {
        // A reader with VERIFY_PIN_DIRECT (06) and MODIFY_PIN_DIRECT (07), as a real one
        // answers.
        let features = [
            0x06, 0x04, 0x42, 0x33, 0x00, 0x06, 0x07, 0x04, 0x42, 0x33, 0x00, 0x07,
        ];
        assert_eq!(
            feature_code(&features, FEATURE_VERIFY_PIN_DIRECT),
            Some(0x4233_0006)
        );
        assert_eq!(feature_code(&features, 0x07), Some(0x4233_0007));
        assert_eq!(feature_code(&features, 0x12), None);
        assert_eq!(feature_code(&[], FEATURE_VERIFY_PIN_DIRECT), None);
        // A length beyond the bytes present.
        assert_eq!(feature_code(&[0x06, 0x08, 0x42], 0x06), None);
        // A wrong length for a code.
        assert_eq!(feature_code(&[0x06, 0x02, 0x42, 0x33], 0x06), None);
    }

    #[test]
    fn the_structure_has_the_part_10_layout() {
        let s = verify_structure(0x80, 30);
        assert_eq!(
            s,
            [
                30, 30, 0x82, 0x04, 0x00, 0x04, 0x04, 0x02, 0x01, 0x11, 0x04, 0x00, 0x00, 0x00,
                0x00, 0x09, 0x00, 0x00, 0x00, 0x00, 0x20, 0x00, 0x80, 0x04, 0x00, 0x00, 0x00, 0x00
            ]
        );
    }

    #[test]
    fn a_pin_pad_completes_the_verify_the_bridge_would_have_built() {
        let s = verify_structure(0x80, 30);
        assert_eq!(
            complete(&s, "1234"),
            Some(Command::verify(b"1234").to_bytes())
        );
        assert_eq!(complete(&s, "123"), None);
        assert_eq!(complete(&s, "12345"), None);
        assert_eq!(complete(&s[..20], "1234"), None);
    }
}
