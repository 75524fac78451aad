//! JPEG 2000 pixel data (transfer syntaxes .90 lossless and .91 lossy, as
//! PACS export computed radiographs) through hayro-jpeg2000, a maintained
//! pure-Rust decoder that builds for wasm32 as it does natively: the page
//! and the CLI decode the same way. (openjp2, dicom-rs's adapter, needs C's
//! malloc family, which wasm32-unknown-unknown lacks.) The first frame is
//! decoded and put back into the object as native little-endian pixel data,
//! so windowing, LUTs and MONOCHROME1 take the path every other file takes.

use dicom_core::value::{PrimitiveValue, Value};
use dicom_core::{DataElement, VR};
use dicom_dictionary_std::tags;
use dicom_object::DefaultDicomObject;
use hayro_jpeg2000::{DecodeSettings, DecoderContext, Image};

use crate::ImageError;
use crate::dicom::Layout;

/// JPEG 2000 Image Compression (Lossless Only) and (lossy).
pub(crate) fn is_jpeg_2000(uid: &str) -> bool {
    matches!(
        uid.trim_end_matches(['\0', ' ']),
        "1.2.840.10008.1.2.4.90" | "1.2.840.10008.1.2.4.91"
    )
}

fn corrupt(name: &str, what: impl std::fmt::Display) -> ImageError {
    crate::dicom::corrupt(name, format!("its JPEG 2000 frame: {what}"))
}

/// The first frame's codestream: every fragment of a single-frame file (an
/// encoder may split one frame), the first fragment of a multi-frame one.
fn first_frame(obj: &DefaultDicomObject, frames: u32) -> Option<Vec<u8>> {
    let fragments = obj.element(tags::PIXEL_DATA).ok()?.value().fragments()?;
    Some(match frames {
        0 | 1 => fragments.concat(),
        _ => fragments.first()?.clone(),
    })
}

/// Replaces `obj`'s JPEG 2000 pixel data by its first frame, decoded, in
/// Explicit VR Little Endian (one frame). `layout` is the header's, checked
/// against the codestream before (`dicom::check_codestream`): the sizes
/// agree.
pub(crate) fn to_native(
    obj: &mut DefaultDicomObject,
    name: &str,
    layout: &Layout,
) -> Result<(), ImageError> {
    let codestream = first_frame(obj, layout.frames)
        .ok_or_else(|| corrupt(name, "no encapsulated fragments"))?;
    let image = Image::new(&codestream, &DecodeSettings::default())
        .map_err(|e| corrupt(name, format!("{e:?}")))?;
    let mut ctx = DecoderContext::default();
    let decoded = image
        .decode(&mut ctx)
        .map_err(|e| corrupt(name, format!("{e:?}")))?;
    let components = decoded.components();
    let &Layout {
        rows,
        columns,
        samples,
        ..
    } = layout;
    if components.len() != samples
        || components
            .iter()
            .any(|c| c.samples().len() != rows * columns)
    {
        return Err(corrupt(
            name,
            format!(
                "{} decoded components, the header says {samples} of {columns}x{rows}",
                components.len()
            ),
        ));
    }
    let bits = components[0].bit_depth().clamp(1, 16);
    // The decoder level-shifts every component to unsigned; a signed
    // image (Pixel Representation 1) is shifted back.
    let signed = obj
        .element(tags::PIXEL_REPRESENTATION)
        .ok()
        .and_then(|e| e.to_int::<u16>().ok())
        == Some(1);
    let shift = if signed { 1i32 << (bits - 1) } else { 0 };
    let top = (1i32 << bits) - 1;
    let sample = |v: f32| ((v.round() as i32).clamp(0, top) - shift) as i16 as u16;
    // Interleaved (colour-by-pixel), as native pixel data is read.
    let mut values = Vec::with_capacity(rows * columns * samples);
    for p in 0..rows * columns {
        for c in components {
            values.push(sample(c.samples()[p]));
        }
    }
    obj.put(DataElement::new(
        tags::PIXEL_DATA,
        VR::OW,
        Value::Primitive(PrimitiveValue::U16(values.into())),
    ));
    let put_u16 = |obj: &mut DefaultDicomObject, tag, v: u16| {
        obj.put(DataElement::new(tag, VR::US, PrimitiveValue::from(v)));
    };
    put_u16(obj, tags::BITS_ALLOCATED, 16);
    put_u16(obj, tags::BITS_STORED, u16::from(bits));
    put_u16(obj, tags::HIGH_BIT, u16::from(bits) - 1);
    put_u16(obj, tags::PLANAR_CONFIGURATION, 0);
    obj.put(DataElement::new(
        tags::NUMBER_OF_FRAMES,
        VR::IS,
        PrimitiveValue::from("1"),
    ));
    // The decoder undid the colour transform (YBR_RCT / YBR_ICT).
    if samples == 3 {
        obj.put(DataElement::new(
            tags::PHOTOMETRIC_INTERPRETATION,
            VR::CS,
            PrimitiveValue::from("RGB"),
        ));
    }
    obj.meta_mut()
        .set_transfer_syntax(&dicom_transfer_syntax_registry::entries::EXPLICIT_VR_LITTLE_ENDIAN);
    Ok(())
}
