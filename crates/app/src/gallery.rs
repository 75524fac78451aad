//! Finished images (each downloadable and, unless edited, linkable), with
//! the prompt's words as chips: hovering or tapping one lays its attention
//! map over the image; and the strip of denoising steps the teaching view
//! shows, where a chosen word's map is laid over every step.

use leptos::prelude::*;

pub use crate::protocol::{Frame, Image, WordMap};

/// Which word is shown: the one under the pointer, else the one tapped
/// (a tap stays until tapped again, for touch screens and for the strip).
#[derive(Clone, Copy)]
struct Chosen {
    hovered: RwSignal<Option<usize>>,
    pinned: RwSignal<Option<usize>>,
}

impl Chosen {
    fn new() -> Self {
        Self {
            hovered: RwSignal::new(None),
            pinned: RwSignal::new(None),
        }
    }

    fn get(self) -> Option<usize> {
        self.hovered.get().or(self.pinned.get())
    }
}

/// The words of a prompt as chips.
#[component]
fn WordChips(maps: Vec<WordMap>, chosen: Chosen) -> impl IntoView {
    let chips = maps
        .into_iter()
        .enumerate()
        .map(|(i, m)| {
            view! {
                <button class="chip" data-testid="word-chip"
                    class:active=move || chosen.get() == Some(i)
                    on:mouseenter=move |_| chosen.hovered.set(Some(i))
                    on:mouseleave=move |_| chosen.hovered.set(None)
                    on:click=move |_| chosen.pinned.update(|a| *a = if *a == Some(i) { None } else { Some(i) })>
                    {m.word}
                </button>
            }
        })
        .collect_view();
    view! { <span class="chips">{chips}</span> }
}

#[component]
fn ResultFigure(img: Image) -> impl IntoView {
    let chosen = Chosen::new();
    let overlays: Vec<String> = img.maps.iter().map(|m| m.overlay.clone()).collect();
    let src = img.src.clone();
    let shown = move || {
        chosen
            .get()
            .and_then(|i| overlays.get(i).cloned())
            .unwrap_or_else(|| src.clone())
    };
    let has_maps = !img.maps.is_empty();
    let dicom = crate::dicom_link::dicom_url(&img.src);
    if let Ok(url) = &dicom {
        let url = url.clone();
        on_cleanup(move || crate::dicom_link::revoke(&url));
    }
    let dicom_name = crate::dicom_link::file_name(&img.file_name);
    view! {
        <figure>
            <img data-testid="result" data-src=img.src.clone() src=shown alt="synthetic chest X-ray"/>
            <figcaption>
                <span data-testid="caption">{img.caption}</span>
                " — synthetic, not for diagnosis. "
                <a data-testid="download-png" href=img.src download=img.file_name>"Download PNG"</a>
                {match dicom {
                    Ok(url) => view! {
                        " · " <a data-testid="download-dicom" href=url download=dicom_name
                            title="A DICOM Secondary Capture for teaching viewers, marked SYNTHETIC - NOT FOR DIAGNOSIS">"DICOM"</a>
                    }.into_any(),
                    Err(e) => view! { <span class="note" data-testid="dicom-error">{format!(" (no DICOM: {e})")}</span> }.into_any(),
                }}
                // An edit has no link: its radiograph stays in this browser.
                {(!img.link.is_empty()).then(|| view! {
                    " · " <a data-testid="share-link" href=img.link.clone()>"Link"</a>
                })}
                {has_maps.then(|| view! {
                    <br/>
                    <span class="note">"Where the model looked, per word: "</span>
                    <WordChips maps=img.maps.clone() chosen=chosen/>
                })}
            </figcaption>
        </figure>
    }
}

#[component]
pub fn Gallery(images: RwSignal<Vec<Image>>, compare: RwSignal<bool>) -> impl IntoView {
    view! {
        <div class="gallery" class:compare=move || compare.get()>
            {move || images.get().into_iter().map(|img| view! { <ResultFigure img=img/> }).collect_view()}
        </div>
    }
}

/// `maps`: the word maps of the image the frames belong to, once it is done.
#[component]
pub fn StepsStrip(
    frames: RwSignal<Vec<Frame>>,
    title: RwSignal<String>,
    maps: RwSignal<Vec<WordMap>>,
) -> impl IntoView {
    let chosen = Chosen::new();
    let frame_src = move |k: usize, plain: String| {
        chosen
            .get()
            .and_then(|i| maps.with(|m| m.get(i).and_then(|m| m.steps.get(k).cloned())))
            .unwrap_or(plain)
    };
    view! {
        // Hidden until a run has made its first frame.
        <details class="steps" data-testid="steps-view" hidden=move || frames.with(Vec::is_empty)>
            <summary>"Denoising, step by step: " {move || title.get()}</summary>
            <p class="note">
                "Each frame is the latent image after one sampler step, mapped straight to colour "
                "(no VAE: a rough, 1/8-size look at what the model is forming). Choose a word to see "
                "where the model attended for it at each step."
            </p>
            {move || {
                let m = maps.get();
                (!m.is_empty()).then(|| view! { <WordChips maps=m chosen=chosen/> })
            }}
            <div class="strip">
                {move || frames.get().into_iter().enumerate().map(|(k, f)| {
                    let plain = f.src.clone();
                    view! {
                        <figure>
                            <img data-testid="step-frame" src=move || frame_src(k, plain.clone())
                                alt=format!("step {}", f.step)/>
                            <figcaption>{f.step}</figcaption>
                        </figure>
                    }
                }).collect_view()}
            </div>
        </details>
    }
}
