//! Fuzzing the DICOM reader, which reads files a stranger hands the page or
//! the CLI (a PACS export, a file from a teaching archive): every committed
//! DICOM fixture (uncompressed, windowed, MONOCHROME1, VOI LUT, JPEG
//! lossless, JPEG 2000 lossless and lossy, 15-bit CR), mutated. Rules and
//! budget: crates/fuzz. Its first runs found a stated element length
//! reserved before it was read (775 MB for a 33 KB file), a JPEG frame
//! header larger than the DICOM one (29 MB for 19 KB), and two panics inside
//! dicom-rs (a JPEG 2000 codestream larger than the header, Bits Stored 0);
//! each is refused by name now (dicom_lengths.rs, dicom.rs). Run with the
//! 50,000-case cap reached under seeds 0x5eed and 0xfeed before committing.

use roentgen_fuzz::{CountingAlloc, Target, fuzz};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

fn dicom_fixtures() -> Vec<Vec<u8>> {
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/radiographs"
    );
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "dcm"))
        .collect();
    names.sort();
    assert_eq!(names.len(), 9, "{names:?}");
    names.iter().map(|p| std::fs::read(p).unwrap()).collect()
}

#[test]
fn dicom_files_refuse_mutations_with_a_message() {
    let report = fuzz(Target::new("dicom", dicom_fixtures()), |bytes| {
        roentgen_imaging::decode(bytes, "fuzzed.dcm").into()
    });
    assert!(report.accepted >= 9, "{report:?}");
    assert!(report.refused > 0, "{report:?}");
}
