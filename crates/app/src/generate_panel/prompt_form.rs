//! What to draw: the prompt (with its token count) first, then a finding
//! preset, the patient for a model trained with demographics, the negative
//! prompt, and the numbers (seed, steps, guidance, size, count, scheduler).

use leptos::prelude::*;
use roentgen_model::SchedulerKind;
use roentgen_model::presets::PRESETS;

use super::store::Store;

/// The prompt and its token count: the first thing on the page, with an
/// example sentence until the visitor types their own.
#[component]
pub fn PromptBox() -> impl IntoView {
    let s = Store::get();
    view! {
        <label class="prompt">"Findings, as in a report"
            <textarea data-testid="prompt" rows="2" prop:value=move || s.prompt.get()
                on:input=move |ev| s.prompt.set(event_target_value(&ev))></textarea>
        </label>
        <p data-testid="tokens" class="note">{move || s.tokens.get().map(|t| t.to_string())}</p>
    }
}

/// Everything else about the image: a finding preset, the patient for a
/// model trained with demographics, the negative prompt, the numbers.
#[component]
pub fn PromptSettings() -> impl IntoView {
    let s = Store::get();
    let presets = PRESETS
        .iter()
        .enumerate()
        .map(|(i, (label, _, _))| view! { <option value=i.to_string()>{*label}</option> })
        .collect_view();
    view! {
        <label>"Finding preset"
            <select data-testid="preset" prop:value=move || s.preset.get().map(|i| i.to_string()).unwrap_or_default()
                on:change=move |ev| {
                if let Ok(i) = event_target_value(&ev).parse::<usize>() {
                    s.apply_preset(i);
                }
            }>
                <option value="">"choose a finding…"</option>
                {presets}
            </select>
        </label>
        <Subject/>
        <label>"Negative prompt"
            <input data-testid="negative" prop:value=move || s.negative.get()
                on:input=move |ev| s.negative.set(event_target_value(&ev))/>
        </label>
        <Numbers/>
    }
}

/// Age, sex and race/ethnicity, and the sentence they open the prompt with.
#[component]
fn Subject() -> impl IntoView {
    let s = Store::get();
    view! {
        <Show when=move || s.show_subject()>
            <div class="row" data-testid="subject">
                <label>"Age" <input data-testid="age" size="4" prop:value=move || s.age.get()
                    on:input=move |ev| s.age.set(event_target_value(&ev))/></label>
                <label>"Sex"
                    <select data-testid="sex" prop:value=move || s.sex.get()
                        on:change=move |ev| s.sex.set(event_target_value(&ev))>
                        <option value="">"—"</option>
                        <option value="female">"female"</option>
                        <option value="male">"male"</option>
                    </select>
                </label>
                <label>"Race/ethnicity" <input data-testid="race" size="14" prop:value=move || s.race.get()
                    on:input=move |ev| s.race.set(event_target_value(&ev))/></label>
            </div>
            <p class="note" data-testid="subject-sentence">{move || {
                let sentence = s.composed("");
                if sentence.is_empty() {
                    "This model was trained with the patient's age, sex and race/ethnicity before the findings.".to_string()
                } else {
                    format!("The prompt opens with: \u{201c}{sentence}\u{201d}")
                }
            }}</p>
        </Show>
    }
}

/// The settings that are numbers, and the scheduler.
#[component]
fn Numbers() -> impl IntoView {
    let s = Store::get();
    let schedulers = SchedulerKind::ALL
        .iter()
        .map(|k| view! { <option value=k.name()>{k.name()}</option> })
        .collect_view();
    view! {
        <div class="row">
            <label>"Seed" <input data-testid="seed" prop:value=move || s.seed.get()
                on:input=move |ev| s.seed.set(event_target_value(&ev))/></label>
            <button class="small" data-testid="random-seed" on:click=move |_| {
                let r = (js_sys::Math::random() * 4294967296.0) as u64;
                s.seed.set(r.to_string());
            }>"random seed"</button>
            <label>"Steps" <input data-testid="steps" prop:value=move || s.steps.get()
                on:input=move |ev| s.steps.set(event_target_value(&ev))/></label>
            <label>"Guidance" <input data-testid="guidance" prop:value=move || s.guidance.get()
                on:input=move |ev| s.guidance.set(event_target_value(&ev))/></label>
            <label title="WIDTHxHEIGHT in pixels; empty: the model's own (512 for RoentGen). Smaller is faster on a slow GPU.">"Size"
                <input data-testid="size" size="9" placeholder="model's own" prop:value=move || s.size.get()
                    on:input=move |ev| s.size.set(event_target_value(&ev))/></label>
            <label>"Images" <input data-testid="count" prop:value=move || s.count.get()
                on:input=move |ev| s.count.set(event_target_value(&ev))/></label>
            <label>"Scheduler"
                <select data-testid="scheduler" prop:value=move || s.scheduler.get().map_or("", |k| k.name())
                    on:change=move |ev| s.scheduler.set(SchedulerKind::from_name(&event_target_value(&ev)))>
                    <option value="">"model default"</option>
                    {schedulers}
                </select>
            </label>
        </div>
    }
}
