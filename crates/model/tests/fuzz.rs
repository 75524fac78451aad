//! Fuzzing what a stranger hands the page before any weight is read: the
//! manifest (JSON, tensor table, file names, the diffusers configs and the
//! graph they imply) and share links. Rules and budget: crates/fuzz.

use roentgen_fuzz::{CountingAlloc, Outcome, Target, fuzz};
use roentgen_model::Spec;
use roentgen_model::share::ShareParams;
use roentgen_weights::Manifest;

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

fn goldens(rel: &str) -> Vec<u8> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/goldens/");
    std::fs::read(format!("{path}{rel}")).unwrap()
}

/// The tiny model's manifest, and a short one (its configs and first
/// tensors), where mutations land on the fields more often.
fn manifests() -> Vec<Vec<u8>> {
    let full = goldens("tiny-sd2/model/manifest.json");
    let mut short = Manifest::from_json(std::str::from_utf8(&full).unwrap()).unwrap();
    short.tensors.truncate(3);
    vec![full, short.to_json().into_bytes()]
}

#[test]
fn manifests_and_configs_refuse_mutations_with_a_message() {
    let report = fuzz(Target::new("manifest", manifests()), |bytes| {
        let Ok(text) = std::str::from_utf8(bytes) else {
            return Outcome::Refused("not UTF-8".into());
        };
        let manifest = match Manifest::from_json(text) {
            Ok(m) => m,
            Err(e) => return Outcome::Refused(e.to_string()),
        };
        // Every name a reader joins to the folder stays inside it.
        for name in
            std::iter::once(&manifest.tokenizer).chain(manifest.shards.iter().map(|s| &s.file))
        {
            assert!(
                !name.contains(['/', '\\']) && !name.starts_with('.'),
                "accepted file name {name:?}"
            );
        }
        Spec::from_manifest(&manifest).into()
    });
    assert!(report.refused > report.cases / 2, "{report:?}");
    assert!(report.accepted >= 1, "{report:?}");
}

#[test]
fn a_tokenizer_outside_the_folder_is_refused() {
    let text = String::from_utf8(goldens("tiny-sd2/model/manifest.json")).unwrap();
    let mut m = Manifest::from_json(&text).unwrap();
    for name in [
        "../tokenizer.json",
        "/etc/passwd",
        "a\\b",
        "%2e%2e",
        ".tokenizer.json",
    ] {
        m.tokenizer = name.into();
        let err = Manifest::from_json(&m.to_json())
            .expect_err(name)
            .to_string();
        assert!(err.contains("plain file name"), "{name}: {err}");
    }
}

#[test]
fn oversized_configs_are_refused_by_name() {
    let text = String::from_utf8(goldens("tiny-sd2/model/manifest.json")).unwrap();
    for (component, field, value) in [
        (
            "unet",
            "layers_per_block",
            serde_json::json!(1_000_000_000_000u64),
        ),
        (
            "unet",
            "block_out_channels",
            serde_json::json!([1u64 << 40, 64]),
        ),
        (
            "text_encoder",
            "num_hidden_layers",
            serde_json::json!(1u64 << 30),
        ),
        ("vae", "block_out_channels", serde_json::json!(vec![32; 64])),
        (
            "scheduler",
            "num_train_timesteps",
            serde_json::json!(1u64 << 40),
        ),
        ("scheduler", "beta_end", serde_json::json!(1.5)),
    ] {
        let mut m = Manifest::from_json(&text).unwrap();
        m.configs.get_mut(component).unwrap()[field] = value;
        let err = Spec::from_manifest(&m).err().expect(field).to_string();
        assert!(err.contains(field), "{component}.{field}: {err}");
    }
}

#[test]
fn share_links_refuse_mutations_and_round_trip_what_they_accept() {
    let examples = [
        "?prompt=Large%20left%20pleural%20effusion.&seed=7&steps=20&guidance=4&scheduler=dpm&run=1",
        "?prompt=a&compare=b&negative=c&count=2&model=tiny-sd2%2F",
        "seed=9007199254740991&steps=150&guidance=30",
    ];
    let corpus = examples.iter().map(|s| s.as_bytes().to_vec()).collect();
    let report = fuzz(Target::new("share-link", corpus), |bytes| {
        let Ok(query) = std::str::from_utf8(bytes) else {
            return Outcome::Refused("not UTF-8".into());
        };
        match ShareParams::parse(query) {
            Ok(p) => {
                // `run` is the page's own flag, appended when it shares.
                let again = ShareParams::parse(&p.to_query()).expect("its own link parses");
                assert_eq!(
                    ShareParams {
                        run: p.run,
                        ..again
                    },
                    p,
                    "round trip of {query:?}"
                );
                Outcome::Accepted
            }
            Err(e) => Outcome::Refused(e),
        }
    });
    assert!(report.accepted > 100 && report.refused > 100, "{report:?}");
}
