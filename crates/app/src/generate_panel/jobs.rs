//! The jobs of a run (Generate: a batch of seeds; Compare: the pair), each
//! with its caption, file name and share link. Pure: the same settings make
//! the same jobs.

use roentgen_model::share::{Compare, ShareParams};

use crate::protocol::Job;

use super::DEFAULT_MODEL;

/// What Generate or Compare makes.
#[derive(Clone, Copy, PartialEq)]
pub enum Mode {
    /// `count` images, seeds seed..seed + count.
    Batch,
    /// The prompt and the compare prompt, same seed, side by side.
    Compare,
}

/// The jobs of a run, each with its caption, file name and share link.
pub fn jobs(p: &ShareParams, mode: Mode, source: &str) -> Vec<Job> {
    let first = p.seed.unwrap_or(1);
    let model = (source != DEFAULT_MODEL).then(|| source.to_string());
    let link = |prompt: &str, seed: u64, compare: Option<Compare>| {
        let q = ShareParams {
            model: model.clone(),
            prompt: prompt.to_string(),
            compare,
            seed: Some(seed),
            count: 1,
            run: true,
            ..p.clone()
        };
        format!("{}&run=1", q.to_query())
    };
    match (mode, &p.compare) {
        (Mode::Batch, _) | (Mode::Compare, None) => (0..p.count as u64)
            .map(|k| Job {
                prompt: p.subject.compose(&p.prompt),
                seed: first + k,
                caption: format!("seed {}", first + k),
                file_name: format!("roentgen-seed{}.png", first + k),
                link: link(&p.prompt, first + k, None),
            })
            .collect(),
        (Mode::Compare, Some(compare)) => {
            let (other, other_subject) = compare.other(&p.prompt, &p.subject);
            let pair = link(&p.prompt, first, Some(compare.clone()));
            // Captions and file names say what differs.
            let (captions, names) = match compare {
                Compare::Findings(_) => (
                    [
                        format!("with: \u{201c}{}\u{201d}, seed {first}", p.prompt),
                        format!("without: \u{201c}{other}\u{201d}, seed {first}"),
                    ],
                    ["with".to_string(), "without".to_string()],
                ),
                Compare::Subject(v) => {
                    let (a, b) = (v.describe_in(&p.subject), v.describe_in(&other_subject));
                    let slug = |s: &str| s.replace(|c: char| !c.is_alphanumeric(), "-");
                    (
                        [
                            format!("{}: {a}, seed {first}", v.field()),
                            format!("{}: {b}, seed {first}", v.field()),
                        ],
                        [slug(&a), slug(&b)],
                    )
                }
            };
            let [with_caption, without_caption] = captions;
            let [with_name, without_name] = names;
            vec![
                Job {
                    prompt: p.subject.compose(&p.prompt),
                    seed: first,
                    caption: with_caption,
                    file_name: format!("roentgen-seed{first}-{with_name}.png"),
                    link: pair.clone(),
                },
                Job {
                    prompt: other_subject.compose(&other),
                    seed: first,
                    caption: without_caption,
                    file_name: format!("roentgen-seed{first}-{without_name}.png"),
                    link: pair,
                },
            ]
        }
    }
}
