//! 券面事項確認 (kenkaku): the card face (reference §4). EF 0002 holds `FF20` with an offset
//! table, then DF22 生年月日, DF23 性別, DF24 card public key, DF25 name image (PNG), DF26
//! address image (PNG), DF27 photo (JPEG 2000), DF28 signature, DF29 expiry date, DF2A
//! security-code image. DF28 is PKCS#1 v1.5 over a SHA-256 DigestInfo whose digest is 96
//! bytes: SHA-256 over DF22‖DF23‖DF24, over DF25‖DF26 and over DF27, each over whole TLVs.
//! DF29 and DF2A are not signed, so they are not read at all. The photo is for the clerk's
//! screen, never stored. The card key of DF24 (signed in group 1) signs the gateway's nonce
//! with `80 2A 00 00` in this application, as kenhojo's card key does.

use num_bigint::BigUint;
use sha2::{Digest, Sha256};

use super::kenhojo::{DataError, RsaKey, card_rsa_key};
use super::layout;
use super::tlv::Tlv;

pub const EF_FACE: u16 = 0x0002;
pub const EF_CVC: u16 = 0x0004;
/// Key references: 照合番号B and 照合番号A.
pub const KEY_MATCH_B: u16 = 0x0012;
pub const KEY_MATCH_A: u16 = 0x0013;

/// The DER of a SHA-256 DigestInfo header for a 96-byte digest.
pub const THREE_DIGEST_PREFIX: [u8; 19] = [
    0x30, 0x71, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, 0x04, 0x60,
];

#[derive(Debug, Clone)]
pub struct Face<'a> {
    pub date_of_birth: &'a [u8],
    pub sex: &'a [u8],
    /// The card's own key (DF24), signed with the rest of group 1: the key that answers the
    /// gateway's nonce in this application.
    pub card_key: RsaKey<'a>,
    pub name_image: &'a [u8],
    pub address_image: &'a [u8],
    pub photo: &'a [u8],
    pub signature: &'a [u8],
    /// What DF28 signs: the DigestInfo with the three digests.
    pub digest_info: Vec<u8>,
}

/// The DigestInfo over the three groups of TLVs.
pub fn three_digests(groups: [&[&[u8]]; 3]) -> Vec<u8> {
    let mut out = THREE_DIGEST_PREFIX.to_vec();
    for group in groups {
        let mut hash = Sha256::new();
        for tlv in group {
            hash.update(tlv);
        }
        out.extend(hash.finalize());
    }
    out
}

/// EF 0002 of kenkaku, which must be exactly `FF20 { DF21 … DF28 [DF29] [DF2A] }` followed by
/// nothing but filler. DF21 (the offset table), DF29 (expiry) and DF2A (security-code image) are
/// not signed and are not returned: nothing unsigned leaves this function.
pub fn face(ef: &[u8]) -> Result<Face<'_>, DataError> {
    use super::layout::{optional, required};
    let file = EF_FACE;
    let bad = |source| DataError::Layout { file, source };
    let record = layout::record(ef, 0xFF20).map_err(bad)?;
    let spec = [
        required(0xDF21),
        required(0xDF22),
        required(0xDF23),
        required(0xDF24),
        required(0xDF25),
        required(0xDF26),
        required(0xDF27),
        required(0xDF28),
        optional(0xDF29),
        optional(0xDF2A),
    ];
    let read = layout::fields(record.value, record.value_offset, record.tag, &spec).map_err(bad)?;
    let get = |i: usize| -> Result<Tlv<'_>, DataError> {
        read.get(i).copied().flatten().ok_or(DataError::Layout {
            file,
            source: layout::LayoutError::Missing {
                record: 0xFF20,
                tag: spec[i].tag,
            },
        })
    };
    let (birth, sex, key, name, address, photo, signature) = (
        get(1)?,
        get(2)?,
        get(3)?,
        get(4)?,
        get(5)?,
        get(6)?,
        get(7)?,
    );
    let digest_info = three_digests([
        &[birth.raw, sex.raw, key.raw],
        &[name.raw, address.raw],
        &[photo.raw],
    ]);
    Ok(Face {
        date_of_birth: birth.value,
        sex: sex.value,
        card_key: card_rsa_key(file, key.value, key.value_offset, 0xDF24)?,
        name_image: name.value,
        address_image: address.value,
        photo: photo.value,
        signature: signature.value,
        digest_info,
    })
}

/// The media type of a card-face image, told by its first bytes: the name and address are
/// PNG, the photo JPEG 2000 (in a JP2 box or as a bare codestream).
pub fn image_media_type(bytes: &[u8]) -> &'static str {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        "image/png"
    } else if bytes.starts_with(b"\x00\x00\x00\x0cjP  ") {
        "image/jp2"
    } else if bytes.starts_with(&[0xFF, 0x4F, 0xFF, 0x51]) {
        "image/j2c"
    } else {
        "application/octet-stream"
    }
}

/// RSA PKCS#1 v1.5 verification of a signature over a DigestInfo given whole (the public
/// operation by hand: no RSA API takes a 96-byte digest). Verification only, with public
/// values: nothing secret is computed here.
pub fn verify_digest_info(n: &[u8], e: &[u8], digest_info: &[u8], signature: &[u8]) -> bool {
    let modulus = BigUint::from_bytes_be(n);
    let k = n.iter().skip_while(|b| **b == 0).count();
    let s = BigUint::from_bytes_be(signature);
    if k < digest_info.len() + 11 || signature.len() != k || s >= modulus {
        return false;
    }
    let m = s.modpow(&BigUint::from_bytes_be(e), &modulus).to_bytes_be();
    // EM = 00 01 FF…FF 00 ‖ DigestInfo, k bytes; `m` lacks the leading 00.
    let mut expected = vec![0x01];
    expected.resize(k - digest_info.len() - 2, 0xFF);
    expected.push(0x00);
    expected.extend_from_slice(digest_info);
    m == expected
}

/// The private operation, for the synthetic issuer: `m^d mod n` over the padded DigestInfo.
pub fn sign_digest_info(n: &[u8], d: &[u8], digest_info: &[u8]) -> Option<Vec<u8>> {
    let k = n.iter().skip_while(|b| **b == 0).count();
    if k < digest_info.len() + 11 {
        return None;
    }
    let mut em = vec![0x00, 0x01];
    em.resize(k - digest_info.len() - 1, 0xFF);
    em.push(0x00);
    em.extend_from_slice(digest_info);
    let s =
        BigUint::from_bytes_be(&em).modpow(&BigUint::from_bytes_be(d), &BigUint::from_bytes_be(n));
    let mut out = s.to_bytes_be();
    while out.len() < k {
        out.insert(0, 0);
    }
    Some(out)
}
