//! The signature written on the counter's pad, as the vendor's app uploads it: base64 of a PNG
//! or JPEG image. It is kept with the confirmation, so it is decoded in full before it is
//! accepted: a file that only starts like an image, a truncated one, one whose type differs
//! from its `mediaType`, or one whose declared size would make a decoder allocate gigabytes (a
//! decompression bomb) is refused with the field to fix.
//!
//! Decoding uses the `png` and `zune-jpeg` crates with their own allocation and size limits;
//! the pixels are only counted, never kept.

use std::io::Cursor;

use base64::Engine;
use sha2::Digest;

use super::confirmation::Signature;
use crate::i18n::Text;
use crate::validation::FieldError;

/// The encoded image's largest size.
pub const MAX_BYTES: usize = 256 * 1024;
/// The largest width and height: a pad at 300 dpi over an A4 width is about 2,500 pixels.
pub const MAX_SIDE: u32 = 4096;
/// The most bytes a decoder may allocate for the pixels (4096 × 4096 RGBA at 16 bits is 128
/// MiB; a signature needs far less).
const MAX_DECODED: usize = 32 * 1024 * 1024;

impl Signature {
    /// How the resident confirms, as the counter app says it: `signature` with the pad's
    /// image, or `attestation` without one (the clerk `staff` attests that the resident signed
    /// the printed summary).
    pub fn chosen(
        method: &str,
        image: Option<(String, String)>,
        staff: Option<&str>,
    ) -> Result<Self, FieldError> {
        match (method, image) {
            ("attestation", None) => Ok(Signature::Attestation {
                attested_by: staff.unwrap_or_default().to_owned(),
            }),
            ("signature", Some((media_type, data))) => Signature::from_upload(&media_type, data),
            _ => Err(FieldError::new(
                "/method",
                "invalid_confirmation",
                Text::new(
                    "method は signature(署名画像を signature に)か attestation(署名した控えの確認、signature なし)です。",
                    "method is signature (with the image in signature) or attestation (no signature).",
                ),
            )),
        }
    }

    /// The signature from the pad: checked to be a whole PNG or JPEG image of `media_type`,
    /// within [`MAX_BYTES`] and [`MAX_SIDE`].
    pub fn from_upload(media_type: &str, data: String) -> Result<Self, FieldError> {
        let bytes = decode(&data).map_err(|_| {
            FieldError::new(
                "/signature/data",
                "invalid_base64",
                Text::new(
                    "署名の画像を base64 で入れてください。",
                    "The signature image must be base64.",
                ),
            )
        })?;
        if bytes.len() > MAX_BYTES {
            return Err(FieldError::new(
                "/signature/data",
                "signature_too_large",
                Text::new(
                    "署名の画像は256KiB以下にしてください。",
                    "The signature image is at most 256 KiB.",
                ),
            ));
        }
        let magic_matches = match media_type {
            "image/png" => bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
            "image/jpeg" => bytes.starts_with(&[0xFF, 0xD8, 0xFF]),
            _ => false,
        };
        if !magic_matches {
            return Err(FieldError::new(
                "/signature/mediaType",
                "invalid_signature_image",
                Text::new(
                    "署名の画像は PNG か JPEG で、mediaType と内容を一致させてください。",
                    "The signature image must be PNG or JPEG, matching mediaType.",
                ),
            ));
        }
        let (width, height) = match media_type {
            "image/png" => png_size(&bytes),
            _ => jpeg_size(&bytes),
        }
        .map_err(|problem| match problem {
            Problem::TooLarge => too_large(),
            Problem::Broken => FieldError::new(
                "/signature/data",
                "invalid_signature_image",
                Text::new(
                    "署名の画像が壊れているか途中で切れています。署名をもう一度取り込んでください。",
                    "The signature image is damaged or cut short: capture the signature again.",
                ),
            ),
        })?;
        // The decoders bound the size already; an empty canvas is no signature either.
        if width == 0 || height == 0 {
            return Err(too_large());
        }
        Ok(Signature::Image {
            media_type: media_type.to_owned(),
            sha256: hex::encode(sha2::Sha256::digest(&bytes)),
            bytes: bytes.len(),
            data,
        })
    }

    /// The image written on the pad, as uploaded (its media type and bytes); `None` for an
    /// attestation.
    pub fn image(&self) -> Option<(&str, Vec<u8>)> {
        let Signature::Image {
            media_type, data, ..
        } = self
        else {
            return None;
        };
        decode(data).ok().map(|bytes| (media_type.as_str(), bytes))
    }
}

/// The signature's base64, as the vendor's app sends it and the confirmation keeps it.
fn decode(data: &str) -> Result<Vec<u8>, base64::DecodeError> {
    base64::engine::general_purpose::STANDARD.decode(data.as_bytes())
}

enum Problem {
    TooLarge,
    Broken,
}

fn too_large() -> FieldError {
    FieldError::new(
        "/signature/data",
        "signature_too_large",
        Text::new(
            format!("署名の画像は縦横とも{MAX_SIDE}ピクセル以下にしてください。"),
            format!("The signature image is at most {MAX_SIDE} pixels wide and high."),
        ),
    )
}

/// Decodes every frame row of a PNG (so its compressed data and checksums are all read) and
/// returns its size.
fn png_size(bytes: &[u8]) -> Result<(u32, u32), Problem> {
    let decoder =
        png::Decoder::new_with_limits(Cursor::new(bytes), png::Limits { bytes: MAX_DECODED });
    let mut reader = decoder.read_info().map_err(png_problem)?;
    let (width, height) = reader.info().size();
    if width > MAX_SIDE || height > MAX_SIDE {
        return Err(Problem::TooLarge);
    }
    let mut buffer = vec![0; reader.output_buffer_size().ok_or(Problem::TooLarge)?];
    reader.next_frame(&mut buffer).map_err(png_problem)?;
    reader.finish().map_err(png_problem)?;
    Ok((width, height))
}

fn png_problem(error: png::DecodingError) -> Problem {
    match error {
        png::DecodingError::LimitsExceeded => Problem::TooLarge,
        _ => Problem::Broken,
    }
}

/// Decodes a JPEG in full and returns its size.
fn jpeg_size(bytes: &[u8]) -> Result<(u32, u32), Problem> {
    let options = zune_jpeg::zune_core::options::DecoderOptions::default()
        .set_max_width(MAX_SIDE as usize)
        .set_max_height(MAX_SIDE as usize)
        .set_strict_mode(true);
    let mut decoder = zune_jpeg::JpegDecoder::new_with_options(
        zune_jpeg::zune_core::bytestream::ZCursor::new(bytes),
        options,
    );
    decoder.decode_headers().map_err(|_| Problem::Broken)?;
    let (width, height) = decoder.dimensions().ok_or(Problem::Broken)?;
    if width > MAX_SIDE as usize || height > MAX_SIDE as usize {
        return Err(Problem::TooLarge);
    }
    decoder.decode().map_err(|_| Problem::Broken)?;
    Ok((width as u32, height as u32))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(bytes: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    /// A PNG as a pad writes it: grey line on white, 8-bit greyscale.
    fn pad_png(width: u32, height: u32) -> Vec<u8> {
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, width, height);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().unwrap();
        let mut pixels = vec![255u8; (width * height) as usize];
        for x in 0..width {
            pixels[((height / 2) * width + x) as usize] = 40;
        }
        writer.write_image_data(&pixels).unwrap();
        writer.finish().unwrap();
        out
    }

    #[test]
    fn a_whole_png_is_accepted_with_its_digest() {
        let png = pad_png(400, 150);
        let signature = Signature::from_upload("image/png", b64(&png)).unwrap();
        let Signature::Image { sha256, bytes, .. } = signature else {
            panic!("not an image")
        };
        assert_eq!(bytes, png.len());
        assert_eq!(sha256, hex::encode(sha2::Sha256::digest(&png)));
    }

    #[test]
    fn a_png_cut_short_or_with_only_its_magic_is_refused() {
        let png = pad_png(400, 150);
        let cut = &png[..png.len() - 30];
        let e = Signature::from_upload("image/png", b64(cut)).unwrap_err();
        assert_eq!(
            (e.pointer.as_str(), e.code),
            ("/signature/data", "invalid_signature_image")
        );
        let magic_only = b"\x89PNG\r\n\x1a\nthis is no image at all";
        let e = Signature::from_upload("image/png", b64(magic_only)).unwrap_err();
        assert_eq!(e.code, "invalid_signature_image");
    }

    #[test]
    fn a_png_with_a_damaged_pixel_chunk_is_refused() {
        let mut png = pad_png(64, 32);
        let idat = png.windows(4).position(|w| w == b"IDAT").unwrap();
        png[idat + 8] ^= 0xFF;
        let e = Signature::from_upload("image/png", b64(&png)).unwrap_err();
        assert_eq!(e.code, "invalid_signature_image");
    }

    #[test]
    fn a_png_declaring_a_huge_canvas_is_refused_before_decoding() {
        // A header that claims 60,000 × 60,000 pixels: 3.6 gigapixels from a few hundred bytes.
        let mut png = pad_png(16, 16);
        png[16..20].copy_from_slice(&60_000u32.to_be_bytes());
        png[20..24].copy_from_slice(&60_000u32.to_be_bytes());
        let crc = crc32(&png[12..29]);
        png[29..33].copy_from_slice(&crc.to_be_bytes());
        let e = Signature::from_upload("image/png", b64(&png)).unwrap_err();
        assert_eq!(e.code, "signature_too_large");
    }

    #[test]
    fn a_jpeg_that_only_starts_like_one_is_refused_and_a_png_called_jpeg_too() {
        let e = Signature::from_upload("image/jpeg", b64(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 16, 1, 2]))
            .unwrap_err();
        assert_eq!(e.code, "invalid_signature_image");
        let e = Signature::from_upload("image/jpeg", b64(&pad_png(16, 16))).unwrap_err();
        assert_eq!(
            (e.pointer.as_str(), e.code),
            ("/signature/mediaType", "invalid_signature_image")
        );
    }

    #[test]
    fn images_written_by_other_tools_are_accepted() {
        // CPython's test images: a colormapped PNG, a JFIF JPEG and a JPEG with no JFIF header.
        for (media_type, bytes) in [
            (
                "image/png",
                &include_bytes!("../../tests/data/images/python.png")[..],
            ),
            (
                "image/jpeg",
                &include_bytes!("../../tests/data/images/python.jpg")[..],
            ),
            (
                "image/jpeg",
                &include_bytes!("../../tests/data/images/python-raw.jpg")[..],
            ),
        ] {
            let signature = Signature::from_upload(media_type, b64(bytes));
            assert!(signature.is_ok(), "{media_type}: {:?}", signature.err());
        }
        // Cut short, the same JPEG is refused.
        let jpeg = include_bytes!("../../tests/data/images/python.jpg");
        let e = Signature::from_upload("image/jpeg", b64(&jpeg[..jpeg.len() / 2])).unwrap_err();
        assert_eq!(e.code, "invalid_signature_image");
    }

    /// CRC-32 of a PNG chunk (ISO 3309), to forge a consistent header in the test above.
    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for &b in bytes {
            crc ^= b as u32;
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
}
