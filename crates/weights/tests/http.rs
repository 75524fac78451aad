//! The HTTP loader against a local server that misbehaves on purpose: broken
//! transfers resume with Range, a server that ignores Range restarts the
//! shard, a corrupt shard is named, credentials are sent and required.

use std::sync::{Arc, Mutex};

use roentgen_weights::http::HttpSource;
use roentgen_weights::testing::{Server, serve};
use roentgen_weights::{ShardEntry, WeightsError, sha256_hex};

fn shard(name: &str, bytes: &[u8]) -> ShardEntry {
    ShardEntry {
        file: name.into(),
        bytes: bytes.len() as u64,
        sha256: sha256_hex(bytes),
    }
}

fn setup() -> (Arc<Mutex<Server>>, String, Vec<u8>) {
    let data: Vec<u8> = (0..700_000u64).map(|i| (i * 7919 % 251) as u8).collect();
    let state = Arc::new(Mutex::new(Server::default()));
    {
        let mut s = state.lock().unwrap();
        s.files.insert("model/shard-00000.bin".into(), data.clone());
        s.files.insert("model/manifest.json".into(), b"{}".to_vec());
    }
    let base = serve(state.clone());
    (state, base, data)
}

#[test]
fn fetches_and_verifies_with_progress() {
    let (_s, base, data) = setup();
    let src = HttpSource::new(&base, None, None);
    let mut last = 0;
    let got = src
        .fetch_shard(&shard("shard-00000.bin", &data), |done, total| {
            assert!(done >= last && total == data.len() as u64);
            last = done;
        })
        .unwrap();
    assert_eq!(got, data);
    assert_eq!(last, data.len() as u64);
    assert_eq!(src.get("manifest.json", 1 << 20).unwrap(), b"{}");
}

#[test]
fn a_broken_transfer_resumes_with_range() {
    let (s, base, data) = setup();
    let src = HttpSource::new(&base, None, None);
    s.lock()
        .unwrap()
        .break_next
        .insert("model/shard-00000.bin".into());
    assert_eq!(
        src.fetch_shard(&shard("shard-00000.bin", &data), |_, _| {})
            .unwrap(),
        data
    );
    let log = s.lock().unwrap().log.clone();
    assert_eq!(log.len(), 2, "{log:?}");
    assert_eq!(
        log[1].1.as_deref(),
        Some(format!("bytes={}-", data.len() / 2).as_str())
    );
}

#[test]
fn a_server_ignoring_range_restarts_the_shard() {
    let (s, base, data) = setup();
    let src = HttpSource::new(&base, None, None);
    {
        let mut s = s.lock().unwrap();
        s.break_next.insert("model/shard-00000.bin".into());
        s.ignore_range = true;
    }
    assert_eq!(
        src.fetch_shard(&shard("shard-00000.bin", &data), |_, _| {})
            .unwrap(),
        data
    );
}

#[test]
fn failures_name_the_shard() {
    let (s, base, data) = setup();
    let src = HttpSource::new(&base, None, None);
    // Corrupt: one flipped byte.
    let mut bad = data.clone();
    bad[1234] ^= 1;
    s.lock()
        .unwrap()
        .files
        .insert("model/shard-00000.bin".into(), bad);
    let err = src
        .fetch_shard(&shard("shard-00000.bin", &data), |_, _| {})
        .unwrap_err();
    assert!(
        matches!(err, WeightsError::ChecksumMismatch { ref shard, .. } if shard == "shard-00000.bin"),
        "{err}"
    );
    // Missing.
    let err = src
        .fetch_shard(&shard("shard-00009.bin", &data), |_, _| {})
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("shard-00009.bin") && err.contains("404"),
        "{err}"
    );
    // Broken on every attempt: resumed once, then given up, naming it.
    {
        let mut st = s.lock().unwrap();
        st.files
            .insert("model/shard-00000.bin".into(), data.clone());
        st.always_break = true;
    }
    let err = src
        .fetch_shard(&shard("shard-00000.bin", &data), |_, _| {})
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("shard-00000.bin") && err.contains("then"),
        "{err}"
    );
}

#[test]
fn credentials_are_sent_and_refusals_explained() {
    let (s, base, data) = setup();
    s.lock().unwrap().auth = Some("Bearer secret".into());
    let err = HttpSource::new(&base, None, None)
        .fetch_shard(&shard("shard-00000.bin", &data), |_, _| {})
        .unwrap_err()
        .to_string();
    assert!(err.contains("401") && err.contains("credentials"), "{err}");
    let src = HttpSource::new(
        &format!("{base}/manifest.json"),
        Some("Bearer secret".into()),
        None,
    );
    assert_eq!(
        src.fetch_shard(&shard("shard-00000.bin", &data), |_, _| {})
            .unwrap(),
        data
    );
}
