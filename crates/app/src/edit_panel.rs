//! Edit a real radiograph: open a PNG, JPEG or DICOM file (read and kept in
//! the worker, never uploaded anywhere), see it as the model will, paint
//! where it may change, and edit it with the prompt and settings above at a
//! chosen strength. The results join the gallery, labelled as edited.

use base64::Engine;
use leptos::prelude::*;
use roentgen_imaging::Fit;
use wasm_bindgen::JsCast;

use crate::protocol::ToWorker;

/// The opened radiograph, as the worker fitted it.
#[derive(Clone, Debug, PartialEq)]
pub struct OpenedImage {
    pub src: String,
    pub width: usize,
    pub height: usize,
    pub name: String,
    pub read_as: String,
}

/// What the panel asks of the page, given the file's name and the strength
/// as typed: the settings, one job per seed and the strength (None, with
/// the status line saying why, when a setting is invalid).
pub type Settings = Callback<
    (String, String),
    Option<(
        roentgen_model::share::ShareParams,
        Vec<crate::protocol::Job>,
        f64,
    )>,
>;

fn context(canvas: &web_sys::HtmlCanvasElement) -> Option<web_sys::CanvasRenderingContext2d> {
    canvas.get_context("2d").ok()??.dyn_into().ok()
}

/// The painted pixels (alpha > 0) as bytes, or None when nothing is painted.
fn painted(canvas: &web_sys::HtmlCanvasElement) -> Option<(String, usize, usize)> {
    let (w, h) = (canvas.width() as usize, canvas.height() as usize);
    let data = context(canvas)?
        .get_image_data(0.0, 0.0, w as f64, h as f64)
        .ok()?
        .data();
    let mask: Vec<u8> = data
        .chunks_exact(4)
        .map(|p| (p[3] > 0) as u8 * 255)
        .collect();
    mask.iter().any(|&m| m > 0).then(|| {
        (
            base64::engine::general_purpose::STANDARD.encode(&mask),
            w,
            h,
        )
    })
}

/// The edit of the open radiograph: the page's settings and jobs, how much
/// of the schedule to run, and the painted mask (its bytes and size) if any.
fn edit_request(
    settings: roentgen_model::share::ShareParams,
    jobs: Vec<crate::protocol::Job>,
    strength: f64,
    mask: Option<(String, usize, usize)>,
    keep_outside: bool,
) -> crate::protocol::EditRequest {
    let (mask, mask_width, mask_height) = match mask {
        Some((m, w, h)) => (Some(m), w, h),
        None => (None, 0, 0),
    };
    crate::protocol::EditRequest {
        settings,
        jobs,
        strength,
        mask,
        mask_width,
        mask_height,
        keep_outside,
    }
}

#[component]
pub fn EditPanel(
    opened: RwSignal<Option<OpenedImage>>,
    settings: Settings,
    send: Callback<(ToWorker, Option<web_sys::File>)>,
    busy: Signal<bool>,
) -> impl IntoView {
    let fit = RwSignal::new(Fit::Crop);
    let strength = RwSignal::new("0.75".to_string());
    // Put the original back outside the mask (feathered), or keep the
    // decoder's output everywhere as diffusers does.
    let keep_outside = RwSignal::new(true);
    // Brush radius as a fraction of the image's width (any model size).
    let brush = RwSignal::new(1.0 / 16.0f64);
    let file = StoredValue::new_local(None::<web_sys::File>);
    let canvas_ref = NodeRef::<leptos::html::Canvas>::new();

    let open = move || {
        if let Some(f) = file.get_value() {
            send.run((
                ToWorker::OpenImage {
                    fit: fit.get_untracked(),
                },
                Some(f),
            ));
        }
    };
    let clear = move || {
        if let Some(canvas) = canvas_ref.get()
            && let Some(ctx) = context(&canvas)
        {
            ctx.clear_rect(0.0, 0.0, canvas.width() as f64, canvas.height() as f64);
        }
    };
    let edit = move |_| {
        let name = opened.get_untracked().map(|o| o.name).unwrap_or_default();
        if let Some((settings, jobs, strength)) = settings.run((name, strength.get_untracked())) {
            let mask = canvas_ref.get().and_then(|c| painted(&c));
            let request =
                edit_request(settings, jobs, strength, mask, keep_outside.get_untracked());
            send.run((ToWorker::Edit(request), None));
        }
    };
    view! {
        <details class="edit" data-testid="edit-panel">
            <summary>"Edit a radiograph (PNG, JPEG or DICOM)"</summary>
            <p class="note">
                "The file is read in this browser and stays here. It is fitted to the model's size; "
                "paint where it may change (or paint nothing to change all of it), then Edit with the "
                "prompt and settings above. Strength: how much of the schedule runs, from keeping the "
                "radiograph (near 0) to redrawing it (1)."
            </p>
            <div class="row">
                <label>"Radiograph"
                    <input data-testid="edit-file" type="file"
                        accept=".png,.jpg,.jpeg,.dcm,.dicom,image/png,image/jpeg,application/dicom"
                        on:change=move |ev| {
                            let input: web_sys::HtmlInputElement = event_target(&ev);
                            let f = input.files().and_then(|l| l.get(0));
                            file.set_value(f);
                            open();
                        }/>
                </label>
                <label>"Fit"
                    <select data-testid="edit-fit" prop:value=move || fit.get().name()
                        on:change=move |ev| {
                            if let Some(f) = Fit::from_name(&event_target_value(&ev)) {
                                fit.set(f);
                                open();
                            }
                        }>
                        <option value="crop">"crop to square (keep the centre)"</option>
                        <option value="pad">"pad to square (keep everything)"</option>
                    </select>
                </label>
                <label>"Strength"
                    <input data-testid="edit-strength" type="number" min="0.05" max="1" step="0.05"
                        prop:value=move || strength.get()
                        on:input=move |ev| strength.set(event_target_value(&ev))/>
                </label>
                <label>"Brush"
                    <select data-testid="edit-brush" on:change=move |ev| {
                        brush.set(event_target_value(&ev).parse().unwrap_or(1.0 / 16.0))
                    }>
                        <option value="0.03125">"small"</option>
                        <option value="0.0625" selected=true>"medium"</option>
                        <option value="0.125">"large"</option>
                    </select>
                </label>
                <label title="The VAE's decoder shifts even the kept region by a few grey levels; \
                    this puts the original's pixels back outside the mask, with a feathered seam \
                    inside it. Off: the decoder's output everywhere, as diffusers gives it.">
                    <input data-testid="edit-keep-outside" type="checkbox"
                        prop:checked=move || keep_outside.get()
                        on:change=move |ev| keep_outside.set(event_target_checked(&ev))/>
                    "keep the original outside the mask"
                </label>
            </div>
            <MaskStage opened canvas_ref brush/>
            <button class="small" data-testid="edit-clear-mask" on:click=move |_| clear()>"Clear mask"</button>
            " "
            <button data-testid="edit" on:click=edit
                disabled=move || busy.get() || opened.get().is_none()>"Edit"</button>
        </details>
    }
}

/// The opened radiograph with the mask canvas over it, on which the
/// visitor paints (at `brush`, a fraction of the width) where it may change.
#[component]
fn MaskStage(
    opened: RwSignal<Option<OpenedImage>>,
    canvas_ref: NodeRef<leptos::html::Canvas>,
    brush: RwSignal<f64>,
) -> impl IntoView {
    let painting = RwSignal::new(false);
    let dab = move |ev: &web_sys::PointerEvent| {
        let Some(canvas) = canvas_ref.get() else {
            return;
        };
        let Some(ctx) = context(&canvas) else { return };
        let scale = canvas.width() as f64 / canvas.client_width().max(1) as f64;
        let (x, y) = (ev.offset_x() as f64 * scale, ev.offset_y() as f64 * scale);
        ctx.set_fill_style_str("rgba(255, 64, 64, 0.55)");
        ctx.begin_path();
        let radius = (brush.get_untracked() * canvas.width() as f64).max(0.75);
        let _ = ctx.arc(x, y, radius, 0.0, std::f64::consts::TAU);
        ctx.fill();
    };
    move || {
        opened.get().map(|o| {
            view! {
                <p class="note" data-testid="edit-read-as">{format!("{}: {}", o.name, o.read_as)}</p>
                <div class="edit-stage">
                    <img data-testid="edit-image" src=o.src.clone() alt="the radiograph to edit"/>
                    <canvas data-testid="edit-mask" node_ref=canvas_ref
                        width=o.width.to_string() height=o.height.to_string()
                        on:pointerdown=move |ev| { painting.set(true); dab(&ev); }
                        on:pointermove=move |ev| if painting.get_untracked() { dab(&ev) }
                        on:pointerup=move |_| painting.set(false)
                        on:pointerleave=move |_| painting.set(false)></canvas>
                </div>
            }
        })
    }
}
