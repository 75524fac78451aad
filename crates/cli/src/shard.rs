//! `--shard i/n`: one machine's part of a job split over n, as a type, so a
//! typo is refused before any model is read.

use std::fmt;

/// Images k with k % n == i.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

impl Shard {
    /// clap's value parser.
    pub fn parse(s: &str) -> Result<Shard, String> {
        let (i, n) = s
            .split_once('/')
            .ok_or_else(|| format!("{s:?}: shard takes i/n, e.g. 0/4"))?;
        let num = |v: &str| {
            v.trim()
                .parse::<u64>()
                .map_err(|_| format!("{s:?}: i and n are whole numbers, e.g. 0/4"))
        };
        let (index, count) = (num(i)?, num(n)?);
        if count == 0 || index >= count {
            return Err(format!("{s:?}: need 0 <= i < n"));
        }
        Ok(Shard { index, count })
    }

    pub fn holds(self, k: u64) -> bool {
        k % self.count == self.index
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_refuses() {
        assert_eq!(Shard::parse("1/4"), Ok(Shard { index: 1, count: 4 }));
        assert_eq!(Shard::parse(" 0 / 1 "), Ok(Shard { index: 0, count: 1 }));
        for bad in ["4/4", "1/0", "1", "a/2", "-1/2", ""] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
        let s = Shard::parse("2/3").unwrap();
        assert_eq!(
            (0..9).filter(|&k| s.holds(k)).collect::<Vec<_>>(),
            [2, 5, 8]
        );
        assert_eq!(s.to_string(), "2/3");
    }
}
