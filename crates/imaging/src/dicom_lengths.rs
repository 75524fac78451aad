//! Every length a DICOM file states, checked against the bytes it has,
//! before dicom-rs reads it. Its parser reserves each element's stated
//! length up front (fallibly, then reads): a 33 KB file whose one length
//! field says 775 MB made it ask for 775 MB (found by crates/imaging's
//! fuzz test). Natively that is freed at once; in the page it grows the
//! worker's wasm memory, which never shrinks. A walk over the element
//! headers, descending into sequences and items, refuses such a file with
//! the element's tag instead.

/// Explicit-VR representations whose length field is 2 bytes, PS3.5
/// 7.1.2; every other one, unknown ones included (read as UN, as dicom-rs
/// does), has 2 reserved bytes and a 4-byte length.
const SHORT_VRS: [&[u8; 2]; 21] = [
    b"AE", b"AS", b"AT", b"CS", b"DA", b"DS", b"DT", b"FL", b"FD", b"IS", b"LO", b"LT", b"PN",
    b"SH", b"SL", b"SS", b"ST", b"TM", b"UI", b"UL", b"US",
];

const UNDEFINED: u32 = 0xffff_ffff;

/// Checks `body` (from "DICM" on, or from the meta group of a file without
/// a preamble) and returns a refusal naming the element whose length does
/// not fit. Big-endian and deflated data sets are left to dicom-rs (their
/// lengths are not read here); so is anything after a length that fits.
pub(crate) fn check(body: &[u8]) -> Result<(), String> {
    let start = if body.starts_with(b"DICM") { 4 } else { 0 };
    // The meta group is always explicit VR little endian; the data set's
    // encoding is its transfer syntax (0002,0010).
    let (meta_end, ts) = walk(body, start, true, true)?;
    let ts = ts.unwrap_or_default();
    let ts = ts.trim_end_matches(['\0', ' ']);
    match ts {
        "1.2.840.10008.1.2.2" | "1.2.840.10008.1.2.1.99" => Ok(()),
        "1.2.840.10008.1.2" => walk(body, meta_end, false, false).map(|_| ()),
        _ => walk(body, meta_end, true, false).map(|_| ()),
    }
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Walks element headers from `pos`; with `meta_only`, stops at the first
/// element outside group 2 and returns where it starts and the transfer
/// syntax UID. Items inside encapsulated pixel data hold compressed bytes,
/// not elements, and are skipped whole.
fn walk(
    b: &[u8],
    mut pos: usize,
    explicit: bool,
    meta_only: bool,
) -> Result<(usize, Option<String>), String> {
    let mut ts = None;
    let mut in_fragments = false;
    while pos + 8 <= b.len() {
        let (group, element) = (u16_at(b, pos), u16_at(b, pos + 2));
        if meta_only && group != 0x0002 {
            break;
        }
        let tag = format!("({group:04X},{element:04X})");
        let remaining = |from: usize| b.len().saturating_sub(from);
        if group == 0xfffe {
            // Item, item delimiter, sequence delimiter: always 8 bytes.
            let len = u32_at(b, pos + 4);
            pos += 8;
            if element == 0xe0dd {
                in_fragments = false;
            }
            if element == 0xe000 && len != UNDEFINED {
                if len as usize > remaining(pos) {
                    return Err(too_long(&tag, len, remaining(pos)));
                }
                if in_fragments {
                    pos += len as usize;
                }
            }
            continue;
        }
        let (len, header, is_sequence) = if explicit {
            let vr = [b[pos + 4], b[pos + 5]];
            if SHORT_VRS.contains(&&vr) {
                (u16_at(b, pos + 6) as u32, 8, false)
            } else {
                if pos + 12 > b.len() {
                    break;
                }
                (u32_at(b, pos + 8), 12, &vr == b"SQ")
            }
        } else {
            // Implicit VR: a value that starts with an item is a sequence.
            let len = u32_at(b, pos + 4);
            let item = b.get(pos + 8..pos + 12) == Some(&[0xfe, 0xff, 0x00, 0xe0]);
            (len, 8, item)
        };
        pos += header;
        if len == UNDEFINED {
            // A sequence or encapsulated pixel data: its contents follow.
            in_fragments = (group, element) == (0x7fe0, 0x0010);
            continue;
        }
        if len as usize > remaining(pos) {
            return Err(too_long(&tag, len, remaining(pos)));
        }
        if (group, element) == (0x0002, 0x0010) {
            ts = Some(String::from_utf8_lossy(&b[pos..pos + len as usize]).into_owned());
        }
        if !is_sequence {
            pos += len as usize;
        }
    }
    Ok((pos, ts))
}

fn too_long(tag: &str, len: u32, remaining: usize) -> String {
    format!(
        "element {tag} claims {len} bytes where {remaining} remain: the file is cut short or corrupt"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Explicit VR LE meta group with a transfer syntax, then `data`.
    fn file(ts: &str, data: &[u8]) -> Vec<u8> {
        let mut ts = ts.as_bytes().to_vec();
        if ts.len() % 2 == 1 {
            ts.push(0);
        }
        let mut b = b"DICM".to_vec();
        b.extend([0x02, 0x00, 0x10, 0x00, b'U', b'I']);
        b.extend((ts.len() as u16).to_le_bytes());
        b.extend(ts);
        b.extend(data);
        b
    }

    #[test]
    fn lengths_that_fit_pass_and_a_long_one_is_named() {
        // (0010,0010) PN "AB", then (7FE0,0010) OW of 4 bytes.
        let mut data = vec![0x10, 0x00, 0x10, 0x00, b'P', b'N', 2, 0, b'A', b'B'];
        data.extend([
            0xe0, 0x7f, 0x10, 0x00, b'O', b'W', 0, 0, 4, 0, 0, 0, 1, 2, 3, 4,
        ]);
        assert_eq!(check(&file("1.2.840.10008.1.2.1", &data)), Ok(()));
        // The pixel data now claims 775 MB.
        let n = data.len();
        data[n - 8..n - 4].copy_from_slice(&774_963_264u32.to_le_bytes());
        let err = check(&file("1.2.840.10008.1.2.1", &data)).unwrap_err();
        assert_eq!(
            err,
            "element (7FE0,0010) claims 774963264 bytes where 4 remain: the file is cut short or corrupt"
        );
    }

    #[test]
    fn sequences_are_entered_and_fragments_skipped() {
        // Implicit VR: (0008,1140) a sequence of one item holding
        // (0008,1150) of 2 bytes, whose length is then made too long.
        let mut data = vec![0x08, 0x00, 0x40, 0x11, 18, 0, 0, 0];
        data.extend([0xfe, 0xff, 0x00, 0xe0, 10, 0, 0, 0]);
        data.extend([0x08, 0x00, 0x50, 0x11, 2, 0, 0, 0, b'1', 0]);
        assert_eq!(check(&file("1.2.840.10008.1.2", &data)), Ok(()));
        data[20] = 200;
        assert!(
            check(&file("1.2.840.10008.1.2", &data))
                .unwrap_err()
                .starts_with("element (0008,1150) claims 200 bytes")
        );
        // Encapsulated pixel data: an offset table and one fragment whose
        // bytes look like a huge element header (skipped, not read).
        let mut px = vec![
            0xe0, 0x7f, 0x10, 0x00, b'O', b'B', 0, 0, 0xff, 0xff, 0xff, 0xff,
        ];
        px.extend([0xfe, 0xff, 0x00, 0xe0, 0, 0, 0, 0]);
        px.extend([0xfe, 0xff, 0x00, 0xe0, 8, 0, 0, 0]);
        px.extend([0x10, 0x00, 0x10, 0x00, 0xff, 0xff, 0xff, 0x7f]);
        px.extend([0xfe, 0xff, 0xdd, 0xe0, 0, 0, 0, 0]);
        assert_eq!(check(&file("1.2.840.10008.1.2.4.90", &px)), Ok(()));
    }
}
