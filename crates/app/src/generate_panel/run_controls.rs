//! What starts and stops work: Generate, Cancel and the presenter view
//! under the prompt, and the compare form (the other prompt, or the
//! demographic to vary).

use leptos::prelude::*;
use roentgen_model::presets::PRESETS;

use crate::protocol::{Phase, ToWorker};

use super::jobs::Mode;
use super::send;
use super::store::{Store, Varies};

/// Generate, Cancel and the presenter view, under the prompt.
#[component]
pub fn RunButtons() -> impl IntoView {
    let s = Store::get();
    let busy = move || s.busy();
    view! {
        <div class="run-buttons">
            <button data-testid="generate" on:click=move |_| s.start(Mode::Batch) disabled=busy>
                "Generate"
            </button>
            <button data-testid="cancel" on:click=move |_| send(ToWorker::Cancel)
                disabled=move || !s.phase.with(Phase::is_cancellable)>"Cancel"</button>
            <Presenter/>
        </div>
    }
}

/// The button that opens the presenter view, and the view.
#[component]
fn Presenter() -> impl IntoView {
    let s = Store::get();
    let stage = crate::presenter::Stage {
        images: s.images,
        preview: s.preview,
        progress: s.progress,
        prompt: s.prompt,
        comparing: s.comparing,
    };
    let generate = Callback::new(move |compare: bool| {
        if !s.busy() {
            s.start(if compare { Mode::Compare } else { Mode::Batch });
        }
    });
    let next_preset = Callback::new(move |()| {
        let next = s
            .preset
            .get_untracked()
            .map_or(0, |i| (i + 1) % PRESETS.len());
        s.apply_preset(next);
    });
    view! {
        <button data-testid="presenter-open" title="Full screen for a projector, with a QR code of the image's link"
            on:click=move |_| s.presenting.set(true)>"Presenter view"</button>
        <crate::presenter::PresenterView stage=stage open=s.presenting generate next_preset/>
    }
}

/// The same seed and settings twice: with the finding and without, or (for
/// a model trained with demographics) with one part of the patient changed.
#[component]
pub fn CompareForm() -> impl IntoView {
    let s = Store::get();
    view! {
        <div class="compare-form">
            <Show when=move || s.show_subject()>
                <label>"Compare varies"
                    <select data-testid="compare-vary" prop:value=move || s.compare_vary.get().name()
                        on:change=move |ev| {
                            let Some(field) = Varies::from_name(&event_target_value(&ev)) else {
                                return;
                            };
                            // Sex has one other value: offer it.
                            if field == Varies::Sex && s.compare_value.get_untracked().trim().is_empty() {
                                let other = match s.sex.get_untracked().as_str() {
                                    "male" => "female",
                                    _ => "male",
                                };
                                s.compare_value.set(other.to_string());
                            }
                            s.compare_vary.set(field);
                        }>
                        <option value="findings">"the findings"</option>
                        <option value="age">"age"</option>
                        <option value="sex">"sex"</option>
                        <option value="race">"race/ethnicity"</option>
                    </select>
                </label>
            </Show>
            <Show when=move || s.compare_vary.get() == Varies::Findings
                fallback=move || view! {
                    <label>{move || format!("Other image's {} (same seed, findings and settings)",
                            s.compare_vary.get().label())}
                        <input data-testid="compare-value" size="14" prop:value=move || s.compare_value.get()
                            on:input=move |ev| s.compare_value.set(event_target_value(&ev))/>
                    </label>
                }>
                <label>"Compare with (same seed and settings)"
                    <input data-testid="compare-prompt" prop:value=move || s.compare_prompt.get()
                        on:input=move |ev| s.compare_prompt.set(event_target_value(&ev))/>
                </label>
            </Show>
            <button data-testid="compare" on:click=move |_| s.start(Mode::Compare) disabled=move || s.busy()>
                "Compare side by side"
            </button>
        </div>
    }
}
