//! What a run shows: the phase, the progress line, the latent preview, the
//! finished images (an example before the first) and the strip of steps.

use leptos::prelude::*;

use crate::gallery::{Gallery, StepsStrip};
use crate::protocol::Phase;

use super::store::Store;

#[component]
pub fn Results() -> impl IntoView {
    let s = Store::get();
    view! {
        <p data-testid="status" data-phase=move || s.phase.with(Phase::name)>{move || s.phase.get().to_string()}</p>
        <p data-testid="progress" class="note">{move || s.progress.get().map(|p| p.to_string())}</p>
        {move || s.preview.get().map(|src| view! {
            <img class="preview" data-testid="preview" src=src alt="latent preview"/>
        })}
        <Show when=move || s.images.with(Vec::is_empty) && s.preview.with(Option::is_none)>
            // Where the image will be, with one the demo model drew (the
            // page's icon), so the first screen shows what the page makes.
            <figure class="example" data-testid="example">
                <img src="icon-512.png" alt="an example synthetic chest X-ray from the demo model"/>
                <figcaption class="note">"Example from the demo model (\u{201c}No acute cardiopulmonary process.\u{201d}, seed 4); \
                    yours appears here."</figcaption>
            </figure>
        </Show>
        <Gallery images=s.images compare=s.comparing/>
        <StepsStrip frames=s.frames title=s.frames_title maps=s.strip_maps/>
    }
}
