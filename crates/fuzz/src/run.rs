//! Runs one target: the corpus as given, then mutated inputs until the case
//! count or the time budget is spent, holding each to the rules in lib.rs.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::{Mutator, largest_allocation, reset_largest_allocation};

/// What a parser did with one input.
pub enum Outcome {
    Accepted,
    /// Refused, with the message a user would see.
    Refused(String),
}

impl<T, E: std::fmt::Display> From<Result<T, E>> for Outcome {
    fn from(r: Result<T, E>) -> Self {
        match r {
            Ok(_) => Outcome::Accepted,
            Err(e) => Outcome::Refused(e.to_string()),
        }
    }
}

pub struct Target {
    pub name: &'static str,
    pub corpus: Vec<Vec<u8>>,
    pub seed: u64,
    /// Stop after this many mutated inputs...
    pub cases: usize,
    /// ...or this much time, whichever comes first.
    pub budget: Duration,
    /// The largest single allocation an input of this many bytes may cause.
    pub allowance: fn(usize) -> usize,
    /// One input taking longer than this counts as a hang.
    pub slowest: Duration,
}

impl Target {
    /// Defaults: 50,000 cases or 3 s, allocations up to 16 bytes per input
    /// byte plus 4 MiB, 2 s per input.
    pub fn new(name: &'static str, corpus: Vec<Vec<u8>>) -> Self {
        Self {
            name,
            corpus,
            seed: 0x5eed,
            cases: 50_000,
            budget: Duration::from_secs(3),
            allowance: |len| 16 * len + (4 << 20),
            slowest: Duration::from_secs(2),
        }
    }
}

#[derive(Debug)]
pub struct Report {
    pub name: &'static str,
    pub cases: usize,
    pub accepted: usize,
    pub refused: usize,
    pub largest_allocation: usize,
    pub slowest: Duration,
}

fn save(name: &str, case: usize, input: &[u8]) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/fuzz-failures");
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join(format!("{name}-{case}.bin"));
    let _ = std::fs::write(&path, input);
    path
}

/// Fuzzes `parse`; panics (failing the test) with the rule broken and the
/// saved input's path.
pub fn fuzz(target: Target, mut parse: impl FnMut(&[u8]) -> Outcome) -> Report {
    let mut report = Report {
        name: target.name,
        cases: 0,
        accepted: 0,
        refused: 0,
        largest_allocation: 0,
        slowest: Duration::ZERO,
    };
    let corpus = target.corpus.clone();
    let mut mutator = Mutator::new(target.seed, target.corpus);
    let started = Instant::now();
    let mut case = 0usize;
    loop {
        let input = if case < corpus.len() {
            corpus[case].clone()
        } else if case - corpus.len() >= target.cases || started.elapsed() > target.budget {
            break;
        } else {
            mutator.next_input()
        };
        reset_largest_allocation();
        let t = Instant::now();
        let outcome = catch_unwind(AssertUnwindSafe(|| parse(&input)));
        let took = t.elapsed();
        let largest = largest_allocation();
        let fail = |rule: String| -> ! {
            let path = save(target.name, case, &input);
            panic!(
                "{}: case {case} (seed {:#x}): {rule}; input saved to {}",
                target.name,
                target.seed,
                path.display()
            )
        };
        match outcome {
            Err(_) => fail("the parser panicked".into()),
            Ok(Outcome::Refused(m)) if m.trim().is_empty() => {
                fail("refused without a message".into())
            }
            Ok(Outcome::Refused(_)) => report.refused += 1,
            Ok(Outcome::Accepted) => report.accepted += 1,
        }
        let allowed = (target.allowance)(input.len());
        if largest > allowed {
            fail(format!(
                "one allocation of {largest} bytes for a {}-byte input (allowed {allowed})",
                input.len()
            ));
        }
        if took > target.slowest {
            fail(format!("took {took:?}"));
        }
        report.largest_allocation = report.largest_allocation.max(largest);
        report.slowest = report.slowest.max(took);
        report.cases += 1;
        case += 1;
    }
    eprintln!(
        "fuzz {}: {} inputs ({} fixtures + {} mutated, seed {:#x}) in {:.1} s: {} accepted, {} refused with a message; largest allocation {} bytes, slowest {:?}",
        report.name,
        report.cases,
        corpus.len(),
        report.cases - corpus.len(),
        target.seed,
        started.elapsed().as_secs_f64(),
        report.accepted,
        report.refused,
        report.largest_allocation,
        report.slowest,
    );
    report
}
