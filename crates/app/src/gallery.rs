//! Finished images (each downloadable and linkable) and the strip of
//! denoising steps the teaching view shows.

use leptos::prelude::*;

pub use crate::protocol::{Frame, Image};

#[component]
pub fn Gallery(images: RwSignal<Vec<Image>>, compare: RwSignal<bool>) -> impl IntoView {
    view! {
        <div class="gallery" class:compare=move || compare.get()>
            {move || images.get().into_iter().map(|img| view! {
                <figure>
                    <img data-testid="result" src=img.src.clone() alt="synthetic chest X-ray"/>
                    <figcaption>
                        <span data-testid="caption">{img.caption}</span>
                        " — synthetic, not for diagnosis. "
                        <a data-testid="download-png" href=img.src download=img.file_name>"Download PNG"</a>
                        // An edit has no link: its radiograph stays in this browser.
                        {(!img.link.is_empty()).then(|| view! {
                            " · " <a data-testid="share-link" href=img.link.clone()>"Link"</a>
                        })}
                    </figcaption>
                </figure>
            }).collect_view()}
        </div>
    }
}

#[component]
pub fn StepsStrip(frames: RwSignal<Vec<Frame>>, title: RwSignal<String>) -> impl IntoView {
    view! {
        <details class="steps" data-testid="steps-view">
            <summary>"Denoising, step by step: " {move || title.get()}</summary>
            <p class="note">
                "Each frame is the latent image after one sampler step, mapped straight to colour "
                "(no VAE: a rough, 1/8-size look at what the model is forming)."
            </p>
            <div class="strip">
                {move || frames.get().into_iter().map(|f| view! {
                    <figure>
                        <img data-testid="step-frame" src=f.src alt=format!("step {}", f.step)/>
                        <figcaption>{f.step}</figcaption>
                    </figure>
                }).collect_view()}
            </div>
        </details>
    }
}
