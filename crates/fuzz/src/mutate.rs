//! Seeded mutations of a corpus: bytes (flips, interesting values, inserts,
//! deletes, repeats, truncation, splices) and the fields parsers trust most
//! (decimal numbers, quoted names, little-endian lengths).

/// splitmix64: tiny, seedable, good enough to pick mutations reproducibly.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in 0..n (n > 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Numbers that break arithmetic on sizes: zero, negatives, just past u32
/// and u64, non-integers.
const NUMBERS: &[&str] = &[
    "0",
    "-1",
    "1",
    "255",
    "65536",
    "4294967295",
    "4294967296",
    "9223372036854775807",
    "18446744073709551615",
    "99999999999999999999999",
    "1e308",
    "-0.0",
    "NaN",
    "3.5",
];

/// Names that try to leave a folder or confuse a path join.
const NAMES: &[&str] = &[
    "../tokenizer.json",
    "..",
    "/etc/passwd",
    "C:\\x",
    ".hidden",
    "a/b",
    "",
    "\u{0}",
    "é",
];

const BYTES: &[u8] = &[
    0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff, b'"', b',', b'(', b')', b'.',
];

const WORDS: &[u32] = &[0, 1, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff];

pub struct Mutator {
    rng: Rng,
    corpus: Vec<Vec<u8>>,
}

impl Mutator {
    pub fn new(seed: u64, corpus: Vec<Vec<u8>>) -> Self {
        assert!(
            !corpus.is_empty(),
            "a fuzz target needs at least one fixture"
        );
        Self {
            rng: Rng(seed),
            corpus,
        }
    }

    /// A corpus entry with one to four mutations applied.
    pub fn next_input(&mut self) -> Vec<u8> {
        let mut v = self.corpus[self.rng.below(self.corpus.len())].clone();
        for _ in 0..1 + self.rng.below(4) {
            self.mutate(&mut v);
        }
        v
    }

    fn mutate(&mut self, v: &mut Vec<u8>) {
        let len = v.len();
        let at = if len == 0 { 0 } else { self.rng.below(len) };
        match self.rng.below(11) {
            0 if len > 0 => v[at] ^= 1 << self.rng.below(8),
            1 if len > 0 => v[at] = BYTES[self.rng.below(BYTES.len())],
            2 => {
                let n = 1 + self.rng.below(8);
                let bytes: Vec<u8> = (0..n).map(|_| self.rng.next() as u8).collect();
                v.splice(at..at, bytes);
            }
            3 if len > 0 => {
                let end = (at + 1 + self.rng.below(64)).min(len);
                v.drain(at..end);
            }
            4 if len > 0 => {
                let end = (at + 1 + self.rng.below(64)).min(len);
                let chunk = v[at..end].to_vec();
                for _ in 0..1 + self.rng.below(4) {
                    v.splice(at..at, chunk.iter().copied());
                }
            }
            5 => v.truncate(at),
            6 => {
                let other = &self.corpus[self.rng.below(self.corpus.len())];
                if !other.is_empty() {
                    let from = self.rng.below(other.len());
                    let end = (from + 1 + self.rng.below(256)).min(other.len());
                    let chunk = other[from..end].to_vec();
                    v.splice(at..(at + chunk.len()).min(len), chunk);
                }
            }
            7 => self.replace_number(v),
            8 => self.replace_name(v),
            9 if len >= 4 => {
                let at = at.min(len - 4);
                let w = WORDS[self.rng.below(WORDS.len())];
                v[at..at + 4].copy_from_slice(&w.to_le_bytes());
            }
            _ if len > 0 => v[at] = self.rng.next() as u8,
            _ => v.push(self.rng.next() as u8),
        }
    }

    /// Swaps one run of ASCII digits for a troublesome number.
    fn replace_number(&mut self, v: &mut Vec<u8>) {
        let runs = runs(v, |b| b.is_ascii_digit());
        if runs.is_empty() {
            return;
        }
        let (s, e) = runs[self.rng.below(runs.len())];
        let n = NUMBERS[self.rng.below(NUMBERS.len())];
        v.splice(s..e, n.bytes());
    }

    /// Swaps the inside of one double-quoted string for a hostile name.
    fn replace_name(&mut self, v: &mut Vec<u8>) {
        let quotes: Vec<usize> = (0..v.len()).filter(|&i| v[i] == b'"').collect();
        if quotes.len() < 2 {
            return;
        }
        let i = self.rng.below(quotes.len() - 1);
        let (s, e) = (quotes[i] + 1, quotes[i + 1]);
        let n = NAMES[self.rng.below(NAMES.len())];
        v.splice(s..e, n.bytes());
    }
}

/// Maximal runs of bytes matching `keep`, as (start, end).
fn runs(v: &[u8], keep: impl Fn(u8) -> bool) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, &b) in v.iter().enumerate() {
        match (keep(b), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                out.push((s, i));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push((s, v.len()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_inputs_and_they_differ_from_the_corpus() {
        let corpus = vec![br#"{"a": "b", "n": 12}"#.to_vec()];
        let mut a = Mutator::new(7, corpus.clone());
        let mut b = Mutator::new(7, corpus.clone());
        let xs: Vec<_> = (0..200).map(|_| a.next_input()).collect();
        let ys: Vec<_> = (0..200).map(|_| b.next_input()).collect();
        assert_eq!(xs, ys);
        let changed = xs.iter().filter(|x| **x != corpus[0]).count();
        assert!(changed > 180, "only {changed} of 200 inputs were mutated");
        assert!(xs.iter().any(|x| x.windows(2).any(|w| w == b"..")));
        assert!(xs.iter().any(|x| x.windows(10).any(|w| w == b"4294967296")));
    }
}
