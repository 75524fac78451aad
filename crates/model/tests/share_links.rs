//! Share links are a public format: every link an earlier version of the
//! page wrote (tests/links/earlier.txt) still opens, to the same settings,
//! and is written back in today's format without losing any of them.

use std::path::Path;

use roentgen_model::share::{LINK_VERSION, ShareParams};

fn earlier_links() -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/links/earlier.txt");
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect()
}

#[test]
fn every_earlier_link_still_opens_and_round_trips() {
    let links = earlier_links();
    assert!(links.len() >= 6, "the list is read: {links:?}");
    for link in &links {
        let p = ShareParams::parse(link).unwrap_or_else(|e| panic!("{link}: {e}"));
        let again = p.to_query();
        assert!(again.starts_with(&format!("?v={LINK_VERSION}&")), "{again}");
        // `run=1` is the page's to append (to_query writes the settings).
        let back = ShareParams {
            run: p.run,
            ..ShareParams::parse(&again).unwrap()
        };
        assert_eq!(back, p, "{link}");
    }
    // What the oldest form says is what it said then.
    let p = ShareParams::parse(&links[0]).unwrap();
    assert_eq!(p.prompt, "small left apical pneumothorax");
    assert_eq!(p.negative, "lateral view");
    assert_eq!((p.seed, p.steps, p.count), (Some(5), 3, 1));
    assert_eq!(p.scheduler.map(|k| k.name()), Some("ddim"));
    assert!(p.run && p.model.is_none() && p.size.is_none() && p.subject.is_empty());
}

#[test]
fn a_link_from_a_newer_format_is_refused_by_name() {
    let err = ShareParams::parse(&format!("?v={}&prompt=x", LINK_VERSION + 1)).unwrap_err();
    assert!(err.starts_with("v: this link was made by a newer"), "{err}");
}
