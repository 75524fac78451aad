//! `roentgen dataset merge`: the whole data set checked (every image k
//! exactly once, each row what the spec says image k is, each image what its
//! row says), then `labels.csv` in image order and the card. It refuses,
//! naming the images, rather than write labels for a set with a hole in it.

use std::path::Path;

use anyhow::bail;

use super::card;
use super::spec::Checked;
use super::store::{self, Layout, Meta};

/// Problems listed in full before "and N more".
const LIST: usize = 20;

pub fn run(out: &Path) -> anyhow::Result<()> {
    let layout = Layout::new(out);
    let meta = Meta::read(&layout)?;
    let checked = meta.spec.clone().check()?;
    if checked.sha256() != meta.spec_sha256 {
        bail!(
            "{}: its spec no longer has the sha256 recorded beside it (edited by hand?)",
            layout.meta().display()
        );
    }
    let rows = store::read_parts(&layout)?;
    if !rows.cut.is_empty() {
        bail!(
            "{} end in a row cut when a task was killed: run that shard again (it mends the \
             row and makes what is missing), then merge",
            names(rows.cut.iter().map(|p| p.display().to_string()))
        );
    }
    let mut problems: Vec<String> = Vec::new();
    let gaps: Vec<u64> = (0..meta.total)
        .filter(|k| !rows.by_k.contains_key(k))
        .collect();
    if !gaps.is_empty() {
        problems.push(format!(
            "{} of {} images have no label row (not made yet, or their task was killed before \
             finishing): {}",
            gaps.len(),
            meta.total,
            names(gaps.iter().map(u64::to_string))
        ));
    }
    for (k, found) in &rows.by_k {
        if *k >= meta.total {
            problems.push(format!(
                "image {k} has a row in {} but the spec makes {} images",
                found[0].0.display(),
                meta.total
            ));
        } else if found.len() > 1 {
            problems.push(format!(
                "image {k} has {} rows: {}",
                found.len(),
                names(found.iter().map(|(p, _)| p.display().to_string()))
            ));
        }
    }
    if problems.is_empty() {
        problems.extend(check_images(&layout, &checked, &rows));
    }
    if !problems.is_empty() {
        let n = problems.len();
        let mut text = problems
            .into_iter()
            .take(LIST)
            .collect::<Vec<_>>()
            .join("\n  ");
        if n > LIST {
            text.push_str(&format!("\n  and {} more", n - LIST));
        }
        bail!("{} is not complete:\n  {text}", layout.root.display());
    }
    let ordered: Vec<&Vec<String>> = rows.by_k.values().map(|f| &f[0].1).collect();
    let mut w = csv::WriterBuilder::new().from_writer(Vec::new());
    w.write_record(store::header())?;
    for r in &ordered {
        w.write_record(*r)?;
    }
    let csv = w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?;
    store::write_atomically(
        &layout.labels(),
        &layout.root.join("labels.csv.partial"),
        &csv,
    )?;
    let card = card::write(&meta, &checked, &ordered);
    store::write_atomically(
        &layout.card(),
        &layout.root.join("README.md.partial"),
        card.as_bytes(),
    )?;
    let removed = remove_partials(&layout)?;
    eprintln!(
        "{}: {} images, each once and as its row says; wrote labels.csv and README.md{}",
        layout.root.display(),
        meta.total,
        match removed {
            0 => String::new(),
            n => format!(" (removed {n} .partial files that killed tasks had left)"),
        }
    );
    Ok(())
}

/// Each row against the spec's image k, and each image against its row.
fn check_images(layout: &Layout, checked: &Checked, rows: &store::Rows) -> Vec<String> {
    let bar = crate::model_args::bar(rows.by_k.len() as u64, "checking");
    let mut problems = Vec::new();
    let col = |r: &Vec<String>, name: &str| r[store::column(name)].clone();
    for (k, found) in &rows.by_k {
        bar.inc(1);
        let (part, row) = &found[0];
        let at = format!(
            "image {k} ({}, row in {})",
            Layout::image_name(*k),
            part.display()
        );
        let planned = match checked.image(*k) {
            Ok(p) => p,
            Err(e) => {
                problems.push(format!("{at}: {e:#}"));
                continue;
            }
        };
        let spec = &checked.spec;
        let want_row = [
            ("file", Layout::image_name(*k)),
            ("prompt", planned.prompt.clone()),
            ("seed", planned.seed.to_string()),
            ("negative", spec.negative.clone()),
            ("steps", spec.steps.to_string()),
            ("guidance", spec.guidance.to_string()),
        ];
        if let Some((name, want)) = want_row.iter().find(|(n, w)| col(row, n) != *w) {
            problems.push(format!(
                "{at}: the row's {name} is {:?}, the spec says {want:?}",
                col(row, name)
            ));
            continue;
        }
        let size = match (col(row, "width").parse(), col(row, "height").parse()) {
            (Ok(w), Ok(h)) => (w, h),
            _ => {
                problems.push(format!("{at}: the row's width or height is not a number"));
                continue;
            }
        };
        let image = match store::read_image(&layout.image(*k)) {
            Ok(i) => i,
            Err(e) => {
                problems.push(format!("{at}: the image cannot be read ({e:#})"));
                continue;
            }
        };
        let expect: Vec<(&str, String)> = [
            "prompt",
            "negative",
            "seed",
            "steps",
            "guidance",
            "scheduler",
        ]
        .into_iter()
        .map(|name| (name, col(row, name)))
        .collect();
        if let Some(why) = store::differs(&image, &expect, size) {
            problems.push(format!("{at}: the image does not match its row: {why}"));
        }
    }
    bar.finish_and_clear();
    problems
}

fn names(items: impl Iterator<Item = String>) -> String {
    let all: Vec<String> = items.collect();
    let mut text = all
        .iter()
        .take(LIST)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if all.len() > LIST {
        text.push_str(&format!(" and {} more", all.len() - LIST));
    }
    text
}

/// `.partial` files left by killed tasks (every image is in place by now).
fn remove_partials(layout: &Layout) -> anyhow::Result<usize> {
    let mut n = 0;
    let images = layout.root.join("images");
    for dir in std::fs::read_dir(&images)? {
        let dir = dir?.path();
        if !dir.is_dir() {
            continue;
        }
        for f in std::fs::read_dir(&dir)? {
            let f = f?.path();
            if f.extension().is_some_and(|e| e == "partial") {
                std::fs::remove_file(&f)?;
                n += 1;
            }
        }
    }
    Ok(n)
}
