//! Download progress per model component (text encoder, UNet, VAE), with rate
//! and time left. Shards are what travels, but people wait for components: the
//! text encoder comes first so work can start early, and "unet 40%" says more
//! than "shard 23 of 67". Platform-neutral, so the page and the CLI agree.

use serde::{Deserialize, Serialize};

use crate::Manifest;

/// Bytes of one component in, of its total.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComponentProgress {
    pub name: String,
    pub done: u64,
    pub total: u64,
}

/// Tracks how much of each shard is in and attributes it to components in
/// proportion to the tensor bytes each component has in that shard (padding
/// and a shard's tail count with the tensors around them).
#[derive(Clone, Debug)]
pub struct DownloadProgress {
    names: Vec<String>,
    /// Per shard: (component index, its tensor bytes there, all tensor bytes there).
    shares: Vec<Vec<(usize, u64, u64)>>,
    shard_bytes: Vec<u64>,
    shard_done: Vec<u64>,
    /// Bytes that crossed the network (not read from a cache), for the rate.
    transferred: u64,
}

impl DownloadProgress {
    pub fn new(manifest: &Manifest) -> Self {
        let mut names: Vec<String> = Vec::new();
        let mut per_shard = vec![Vec::<(usize, u64)>::new(); manifest.shards.len()];
        for t in &manifest.tensors {
            let c = match names.iter().position(|n| n == t.component()) {
                Some(c) => c,
                None => {
                    names.push(t.component().to_string());
                    names.len() - 1
                }
            };
            for e in std::iter::once(t.data).chain(t.scale) {
                if let Some(parts) = per_shard.get_mut(e.shard) {
                    match parts.iter_mut().find(|(i, _)| *i == c) {
                        Some((_, b)) => *b += e.length,
                        None => parts.push((c, e.length)),
                    }
                }
            }
        }
        let shares = per_shard
            .into_iter()
            .map(|parts| {
                let sum: u64 = parts.iter().map(|p| p.1).sum::<u64>().max(1);
                parts.into_iter().map(|(c, b)| (c, b, sum)).collect()
            })
            .collect();
        Self {
            names,
            shares,
            shard_bytes: manifest.shards.iter().map(|s| s.bytes).collect(),
            shard_done: vec![0; manifest.shards.len()],
            transferred: 0,
        }
    }

    /// Shard `i` now has `bytes` in; `network` says they were downloaded
    /// rather than read from a cache. A restarted shard may go backwards.
    pub fn set_shard(&mut self, i: usize, bytes: u64, network: bool) {
        if let Some(d) = self.shard_done.get_mut(i) {
            if network && bytes > *d {
                self.transferred += bytes - *d;
            }
            *d = bytes;
        }
    }

    pub fn done(&self) -> u64 {
        self.shard_done.iter().sum()
    }

    pub fn total(&self) -> u64 {
        self.shard_bytes.iter().sum()
    }

    pub fn transferred(&self) -> u64 {
        self.transferred
    }

    /// Per component, in the order the manifest lists them.
    pub fn components(&self) -> Vec<ComponentProgress> {
        let mut out: Vec<ComponentProgress> = self
            .names
            .iter()
            .map(|n| ComponentProgress {
                name: n.clone(),
                done: 0,
                total: 0,
            })
            .collect();
        for (s, parts) in self.shares.iter().enumerate() {
            for &(c, mine, all) in parts {
                let part = |b: u64| (b as u128 * mine as u128 / all as u128) as u64;
                out[c].total += part(self.shard_bytes[s]);
                out[c].done += part(self.shard_done[s]);
            }
        }
        out
    }

    /// Network bytes per second and seconds left at that rate, after
    /// `elapsed_s` seconds (None until anything was downloaded).
    pub fn rate_and_eta(&self, elapsed_s: f64) -> Option<(f64, f64)> {
        if self.transferred == 0 || elapsed_s <= 0.0 {
            return None;
        }
        let rate = self.transferred as f64 / elapsed_s;
        Some((
            rate,
            (self.total() - self.done().min(self.total())) as f64 / rate,
        ))
    }

    /// Where the download is after `elapsed_s` seconds, as numbers (the
    /// page's worker sends this; the page prints it).
    pub fn snapshot(&self, elapsed_s: f64) -> DownloadSnapshot {
        DownloadSnapshot {
            components: self.components(),
            rate_and_eta: self.rate_and_eta(elapsed_s),
        }
    }

    /// One line for people: "text_encoder 1.2/1.2 MB · unet 0.4/3.6 MB ·
    /// 2.1 MB/s, 2 s left".
    pub fn summary(&self, elapsed_s: f64) -> String {
        self.snapshot(elapsed_s).to_string()
    }
}

/// A download's state at one moment: each component's bytes, and the
/// network rate (bytes/s) with the seconds left at it, once anything came
/// over the network.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DownloadSnapshot {
    pub components: Vec<ComponentProgress>,
    pub rate_and_eta: Option<(f64, f64)>,
}

/// "text_encoder 1.2/1.2 MB · unet 0.4/3.6 MB · 2.1 MB/s, 2 s left".
impl std::fmt::Display for DownloadSnapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mb = |b: u64| b as f64 / 1e6;
        let mut parts: Vec<String> = self
            .components
            .iter()
            .map(|c| format!("{} {:.1}/{:.1} MB", c.name, mb(c.done), mb(c.total)))
            .collect();
        if let Some((rate, eta)) = self.rate_and_eta {
            parts.push(format!("{:.1} MB/s, {} left", rate / 1e6, duration(eta)));
        }
        f.write_str(&parts.join(" · "))
    }
}

/// "45 s", "3 min", "1 h 20 min".
pub fn duration(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    match s {
        0..=99 => format!("{s} s"),
        100..=3599 => format!("{} min", s.div_ceil(60)),
        _ => format!("{} h {} min", s / 3600, (s % 3600) / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{Extent, ShardEntry, TensorDType, TensorEntry};

    fn tensor(name: &str, shard: usize, offset: u64, length: u64) -> TensorEntry {
        TensorEntry {
            name: name.into(),
            dtype: TensorDType::F16,
            shape: vec![length as usize / 2],
            data: Extent {
                shard,
                offset,
                length,
            },
            scale: None,
        }
    }

    fn manifest() -> Manifest {
        let tensors = vec![
            tensor("text_encoder.a", 0, 0, 600),
            tensor("unet.b", 0, 600, 400),
            tensor("unet.c", 1, 0, 1000),
            tensor("vae.d", 2, 0, 500),
        ];
        let shards = ["s0", "s1", "s2"]
            .iter()
            .zip([1000, 1000, 500])
            .map(|(f, b)| ShardEntry {
                file: f.to_string(),
                bytes: b,
                sha256: "0".repeat(64),
            })
            .collect();
        Manifest {
            format: "roentgen-weights".into(),
            format_version: 1,
            model_kind: "sd-v1-txt2img".into(),
            configs: Default::default(),
            tokenizer: "tokenizer.json".into(),
            tensors,
            shards,
            demographic_prompts: false,
        }
    }

    #[test]
    fn shards_are_attributed_to_components_by_their_tensor_bytes() {
        let mut p = DownloadProgress::new(&manifest());
        let totals: Vec<_> = p
            .components()
            .iter()
            .map(|c| (c.name.clone(), c.total))
            .collect();
        assert_eq!(
            totals,
            [
                ("text_encoder".into(), 600),
                ("unet".into(), 1400),
                ("vae".into(), 500)
            ]
        );
        p.set_shard(0, 500, true);
        let c = p.components();
        assert_eq!((c[0].done, c[1].done, c[2].done), (300, 200, 0));
        p.set_shard(0, 1000, true);
        p.set_shard(1, 1000, false);
        assert_eq!(p.components()[1].done, 1400);
        assert_eq!(p.done(), 2000);
        assert_eq!(p.total(), 2500);
        // Only network bytes make the rate: 1000 B in 2 s, 500 B left.
        let (rate, eta) = p.rate_and_eta(2.0).unwrap();
        assert_eq!((rate, eta), (500.0, 1.0));
        assert!(
            p.summary(2.0).ends_with("0.0 MB/s, 1 s left"),
            "{}",
            p.summary(2.0)
        );
    }

    #[test]
    fn a_restarted_shard_goes_back_without_inflating_the_rate() {
        let mut p = DownloadProgress::new(&manifest());
        p.set_shard(1, 800, true);
        p.set_shard(1, 0, true);
        p.set_shard(1, 1000, true);
        assert_eq!(p.transferred(), 1800);
        assert_eq!(p.done(), 1000);
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(4.4), "4 s");
        assert_eq!(duration(150.0), "3 min");
        assert_eq!(duration(4800.0), "1 h 20 min");
    }
}
