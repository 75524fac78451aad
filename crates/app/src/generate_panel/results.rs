//! What a run shows: the phase, the progress line, the latent preview, the
//! finished images and the strip of steps.

use leptos::prelude::*;

use crate::gallery::{Gallery, StepsStrip};
use crate::protocol::Phase;

use super::store::Store;

#[component]
pub fn Results() -> impl IntoView {
    let s = Store::get();
    view! {
        <p data-testid="status" data-phase=move || s.phase.with(Phase::name)>{move || s.phase.get().to_string()}</p>
        <p data-testid="progress" class="note">{move || s.progress.get()}</p>
        {move || s.preview.get().map(|src| view! {
            <img class="preview" data-testid="preview" src=src alt="latent preview"/>
        })}
        <Gallery images=s.images compare=s.comparing/>
        <StepsStrip frames=s.frames title=s.frames_title maps=s.strip_maps/>
    }
}
