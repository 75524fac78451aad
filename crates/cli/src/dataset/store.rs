//! Where a data set lives on disk, and the rules that make it survive a
//! killed task: each image is written whole to a `.partial` file and renamed
//! into place (a rename within a folder is atomic), and its label row is
//! appended to the shard's own part file only after. A task killed at any
//! moment leaves at most one `.partial` file and at most one image without
//! its row; a rerun finds both and mends them.
//!
//! ```text
//! OUT/dataset.json            the spec (as JSON), its sha256, the model's
//! OUT/spec.toml               the spec as written
//! OUT/images/000/000000.png   image k = 0 (a folder per thousand)
//! OUT/parts/shard-0-of-4.csv  label rows written by shard 0/4
//! OUT/labels.csv, README.md   written by `roentgen dataset merge`
//! ```

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use roentgen_phantom::report::Report;
use serde::{Deserialize, Serialize};

use super::spec::Planned;
use crate::shard::Shard;

pub struct Layout {
    pub root: PathBuf,
}

impl Layout {
    pub fn new(root: &Path) -> Self {
        Self {
            root: root.to_path_buf(),
        }
    }

    /// Image k's path relative to the data set's folder.
    pub fn image_name(k: u64) -> String {
        format!("images/{:03}/{k:06}.png", k / 1000)
    }

    pub fn image(&self, k: u64) -> PathBuf {
        self.root.join(Self::image_name(k))
    }

    pub fn partial(&self, k: u64) -> PathBuf {
        self.root.join(format!("{}.partial", Self::image_name(k)))
    }

    pub fn parts(&self) -> PathBuf {
        self.root.join("parts")
    }

    pub fn part(&self, shard: Shard) -> PathBuf {
        self.parts()
            .join(format!("shard-{}-of-{}.csv", shard.index, shard.count))
    }

    pub fn meta(&self) -> PathBuf {
        self.root.join("dataset.json")
    }

    pub fn spec_copy(&self) -> PathBuf {
        self.root.join("spec.toml")
    }

    pub fn labels(&self) -> PathBuf {
        self.root.join("labels.csv")
    }

    pub fn card(&self) -> PathBuf {
        self.root.join("README.md")
    }
}

/// Writes `bytes` to `path` whole or not at all: a temporary file beside it,
/// flushed to disk, then renamed.
pub fn write_atomically(path: &Path, tmp: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut f = File::create(tmp).with_context(|| format!("creating {}", tmp.display()))?;
    f.write_all(bytes)
        .and_then(|_| f.sync_all())
        .with_context(|| format!("writing {}", tmp.display()))?;
    fs::rename(tmp, path).with_context(|| format!("renaming into {}", path.display()))
}

/// What the data set was made from, kept beside it: a rerun with another
/// spec or model is refused instead of mixing two data sets.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct Meta {
    pub format: String,
    pub format_version: u32,
    pub total: u64,
    pub spec_sha256: String,
    pub spec: super::spec::Spec,
    /// The model as the first run named it (a folder or URL).
    pub model: String,
    /// sha256 of its manifest.json, which names every shard's sha256: the
    /// model's identity wherever it is stored.
    pub model_manifest_sha256: String,
    pub model_kind: String,
    /// Where the arithmetic ran: "f16" or "f32" on the GPU, "cpu" (f32).
    /// Images of one set share it: f16 and f32 differ in the last bits.
    pub arithmetic: String,
}

pub const FORMAT: &str = "roentgen-dataset";
pub const FORMAT_VERSION: u32 = 1;

impl Meta {
    pub fn read(layout: &Layout) -> anyhow::Result<Meta> {
        let path = layout.meta();
        let text = fs::read_to_string(&path).with_context(|| {
            format!(
                "reading {} (is {} a data set made by `roentgen dataset`?)",
                path.display(),
                layout.root.display()
            )
        })?;
        let meta: Meta =
            serde_json::from_str(&text).with_context(|| format!("reading {}", path.display()))?;
        if meta.format != FORMAT || meta.format_version != FORMAT_VERSION {
            bail!(
                "{}: format {} version {}, this roentgen reads {FORMAT} version {FORMAT_VERSION}",
                path.display(),
                meta.format,
                meta.format_version
            );
        }
        Ok(meta)
    }

    /// Writes this data set's meta, or checks that the folder holds the same
    /// data set. Shards starting together may race to write it; they write
    /// the same bytes, atomically.
    pub fn create_or_check(&self, layout: &Layout, spec_text: &str) -> anyhow::Result<Meta> {
        if layout.meta().exists() {
            let have = Meta::read(layout)?;
            if have.spec_sha256 != self.spec_sha256 {
                bail!(
                    "{} was made from another spec (sha256 {} there, {} now): give a new --out, \
                     or the spec it was made from ({})",
                    layout.root.display(),
                    short(&have.spec_sha256),
                    short(&self.spec_sha256),
                    layout.spec_copy().display()
                );
            }
            if have.model_manifest_sha256 != self.model_manifest_sha256 {
                bail!(
                    "{} was made with another model ({}, manifest sha256 {}); this one's manifest \
                     is {}: give a new --out",
                    layout.root.display(),
                    have.model,
                    short(&have.model_manifest_sha256),
                    short(&self.model_manifest_sha256)
                );
            }
            if have.arithmetic != self.arithmetic {
                bail!(
                    "{} was made in {} arithmetic, this run would use {}: pass the same \
                     --precision (and --cpu) as the first run",
                    layout.root.display(),
                    have.arithmetic,
                    self.arithmetic
                );
            }
            return Ok(have);
        }
        fs::create_dir_all(&layout.root)
            .with_context(|| format!("creating {}", layout.root.display()))?;
        let pid = std::process::id();
        write_atomically(
            &layout.spec_copy(),
            &layout.root.join(format!("spec.toml.{pid}.partial")),
            spec_text.as_bytes(),
        )?;
        let json = serde_json::to_vec_pretty(self)?;
        write_atomically(
            &layout.meta(),
            &layout.root.join(format!("dataset.json.{pid}.partial")),
            &json,
        )?;
        Ok(self.clone())
    }
}

pub fn short(sha: &str) -> &str {
    &sha[..sha.len().min(12)]
}

/// The settings columns every row starts with, then the labels.
const SETTINGS: [&str; 15] = [
    "k",
    "file",
    "prompt",
    "seed",
    "negative",
    "steps",
    "guidance",
    "scheduler",
    "width",
    "height",
    "model",
    "model_manifest_sha256",
    "age",
    "sex",
    "race",
];

pub fn header() -> Vec<String> {
    SETTINGS
        .iter()
        .map(|s| s.to_string())
        .chain(Report::columns())
        .collect()
}

/// One image's row: its settings, then what its prompt states.
pub fn row(
    planned: &Planned,
    req: &roentgen_model::Request,
    size: (usize, usize),
    meta: &Meta,
) -> Vec<String> {
    let s = &planned.subject;
    let mut r = vec![
        planned.k.to_string(),
        Layout::image_name(planned.k),
        req.prompt.clone(),
        req.seed.to_string(),
        req.negative.clone(),
        req.steps.to_string(),
        req.guidance.to_string(),
        req.scheduler.name().to_string(),
        size.0.to_string(),
        size.1.to_string(),
        meta.model.clone(),
        meta.model_manifest_sha256.clone(),
        s.age.map(|a| a.to_string()).unwrap_or_default(),
        s.sex.map(|x| x.name().to_string()).unwrap_or_default(),
        s.race.clone().unwrap_or_default(),
    ];
    // The labels read the findings, not the demographic sentence.
    let findings = req
        .prompt
        .strip_prefix(&s.sentence())
        .unwrap_or(&req.prompt);
    r.extend(roentgen_phantom::report::read(findings).row());
    r
}

/// The column of `name` in a row.
pub fn column(name: &str) -> usize {
    SETTINGS
        .iter()
        .position(|c| *c == name)
        .expect("a settings column")
}

/// Label rows read back from part files, by image.
pub struct Rows {
    pub by_k: BTreeMap<u64, Vec<(PathBuf, Vec<String>)>>,
    /// Part files whose last row was cut (a task killed while writing it).
    pub cut: Vec<PathBuf>,
}

/// Reads every part file in the data set.
pub fn read_parts(layout: &Layout) -> anyhow::Result<Rows> {
    let mut rows = Rows {
        by_k: BTreeMap::new(),
        cut: Vec::new(),
    };
    let dir = layout.parts();
    if !dir.exists() {
        return Ok(rows);
    }
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "csv"))
        .collect();
    files.sort();
    let want = header();
    for path in files {
        let mut bytes = Vec::new();
        File::open(&path)
            .and_then(|mut f| f.read_to_end(&mut bytes))
            .with_context(|| format!("reading {}", path.display()))?;
        // A cut last row is not read (a rerun of its shard mends it).
        let whole = match bytes.iter().rposition(|&b| b == b'\n') {
            Some(end) => &bytes[..=end],
            None => &bytes[..0],
        };
        if whole.len() != bytes.len() {
            rows.cut.push(path.clone());
        }
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .from_reader(whole);
        let head: Vec<String> = reader
            .headers()
            .with_context(|| format!("reading {}", path.display()))?
            .iter()
            .map(String::from)
            .collect();
        if !head.is_empty() && head != want {
            bail!(
                "{}: its columns are not the ones this roentgen writes (made by another version?)",
                path.display()
            );
        }
        for (line, rec) in reader.records().enumerate() {
            let rec = rec.with_context(|| format!("{} row {}", path.display(), line + 1))?;
            let values: Vec<String> = rec.iter().map(String::from).collect();
            let k: u64 = values[0].parse().with_context(|| {
                format!(
                    "{} row {}: k {:?} is not a number",
                    path.display(),
                    line + 1,
                    values[0]
                )
            })?;
            rows.by_k.entry(k).or_default().push((path.clone(), values));
        }
    }
    Ok(rows)
}

/// A shard's own part file, open for appending rows.
pub struct Part {
    file: File,
}

impl Part {
    /// Opens (or starts) `shard`'s part file; a last row cut by a killed
    /// task is dropped, and returned so the caller can say so.
    pub fn open(layout: &Layout, shard: Shard) -> anyhow::Result<(Part, Option<String>)> {
        let path = layout.part(shard);
        fs::create_dir_all(layout.parts())?;
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)
            .with_context(|| format!("opening {}", path.display()))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        let keep = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |e| e + 1);
        let mut cut = None;
        if keep < bytes.len() {
            cut = Some(String::from_utf8_lossy(&bytes[keep..]).into_owned());
            file.set_len(keep as u64)?;
            file.seek(SeekFrom::End(0))?;
        }
        let mut part = Part { file };
        if keep == 0 {
            part.append(&header())?;
        }
        Ok((part, cut))
    }

    /// Appends one row in one write, flushed to disk.
    pub fn append(&mut self, values: &[String]) -> anyhow::Result<()> {
        let mut w = csv::WriterBuilder::new().from_writer(Vec::new());
        w.write_record(values)?;
        let line = w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?;
        self.file.write_all(&line)?;
        self.file.sync_data()?;
        Ok(())
    }
}

/// An image read back: its size and its text chunks.
pub struct ImageText {
    pub width: usize,
    pub height: usize,
    pub text: BTreeMap<String, String>,
}

/// Decodes a PNG whole (a damaged file fails here) and returns its text.
pub fn read_image(path: &Path) -> anyhow::Result<ImageText> {
    let file = File::open(path)?;
    let mut reader = png::Decoder::new(std::io::BufReader::new(file)).read_info()?;
    let mut buf = vec![0; reader.output_buffer_size().context("image too large")?];
    reader.next_frame(&mut buf)?;
    reader.finish()?;
    let info = reader.info();
    let mut text = BTreeMap::new();
    for t in &info.utf8_text {
        text.insert(t.keyword.clone(), t.get_text()?);
    }
    for t in &info.uncompressed_latin1_text {
        text.insert(t.keyword.clone(), t.text.clone());
    }
    Ok(ImageText {
        width: info.width as usize,
        height: info.height as usize,
        text,
    })
}

/// The first way `image` differs from what `expect` (the settings the PNG
/// should carry) and the size say, if any. The model's location is not
/// compared: the same model may sit elsewhere on another machine.
pub fn differs(
    image: &ImageText,
    expect: &[(&str, String)],
    size: (usize, usize),
) -> Option<String> {
    if (image.width, image.height) != size {
        return Some(format!(
            "it is {}x{}, the spec makes {}x{}",
            image.width, image.height, size.0, size.1
        ));
    }
    for (key, want) in expect {
        if *key == "model" {
            continue;
        }
        match image.text.get(*key) {
            Some(have) if have == want => {}
            Some(have) => return Some(format!("its {key} is {have:?}, the spec says {want:?}")),
            None => return Some(format!("it has no {key}")),
        }
    }
    None
}
