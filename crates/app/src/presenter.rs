//! The presenter view: what a projector shows in a lecture. The image as
//! large as the screen allows on black, the prompt in type the back row can
//! read, the step counter while it forms, the compare pair side by side,
//! and a QR code of the image's share link, so that the phones in the room
//! reproduce the exact image. The lecturer drives it from the keyboard (a
//! presentation clicker sends the arrow keys): N or → next finding preset,
//! G or Enter generate, C compare on/off, A the attention map of each word
//! in turn, Esc back to the page.

use leptos::ev;
use leptos::prelude::*;

use crate::protocol::Image;

/// What the page shows that the presenter view shows larger.
#[derive(Clone, Copy)]
pub struct Stage {
    pub images: RwSignal<Vec<Image>>,
    /// The latent preview of the step being made, while a run goes.
    pub preview: RwSignal<Option<String>>,
    /// Where the worker's run is ("image 1 of 1 · step 7 of 20 · ...").
    pub progress: RwSignal<Option<crate::news::Progress>>,
    pub prompt: RwSignal<String>,
    /// The last run was a compare pair.
    pub comparing: RwSignal<bool>,
}

/// The keys the view answers, as a lecturer presses them.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Key {
    NextPreset,
    Generate,
    ToggleCompare,
    NextWord,
    Leave,
}

impl Key {
    fn of(ev: &web_sys::KeyboardEvent) -> Option<Key> {
        if ev.ctrl_key() || ev.meta_key() || ev.alt_key() {
            return None;
        }
        Some(match ev.key().as_str() {
            "n" | "N" | "ArrowRight" | "PageDown" => Key::NextPreset,
            "g" | "G" | "Enter" => Key::Generate,
            "c" | "C" => Key::ToggleCompare,
            "a" | "A" => Key::NextWord,
            "Escape" => Key::Leave,
            _ => return None,
        })
    }
}

/// `link` (a share link's query) as the absolute URL a phone opens.
fn absolute(link: &str) -> Option<String> {
    let here = web_sys::window()?.location().href().ok()?;
    Some(web_sys::Url::new_with_base(link, &here).ok()?.href())
}

/// The QR code of `text` as an SVG element's markup, black on white with
/// the quiet zone a phone's camera needs.
fn qr_svg(text: &str) -> Result<String, String> {
    let code = qrcode::QrCode::with_error_correction_level(text, qrcode::EcLevel::M)
        .map_err(|e| format!("the link does not fit a QR code: {e}"))?;
    Ok(code
        .render::<qrcode::render::svg::Color>()
        .quiet_zone(true)
        .dark_color(qrcode::render::svg::Color("#000"))
        .light_color(qrcode::render::svg::Color("#fff"))
        .build())
}

/// Sends the presenter's keys to `on_key` while the view is `open` (the
/// page's own keys stay the page's otherwise); removed with the view.
fn listen_for_keys(open: RwSignal<bool>, on_key: impl Fn(Key) + 'static) {
    let listener = window_event_listener(ev::keydown, move |ev| {
        if !open.get_untracked() {
            return;
        }
        if let Some(key) = Key::of(&ev) {
            ev.prevent_default();
            on_key(key);
        }
    });
    on_cleanup(move || listener.remove());
}

/// `open` shows it; `generate(compare)` starts a run as the page's buttons
/// do (the page ignores it while busy); `next_preset` sets the next finding
/// preset's prompt and compare prompt.
#[component]
pub fn PresenterView(
    stage: Stage,
    open: RwSignal<bool>,
    generate: Callback<bool>,
    next_preset: Callback<()>,
) -> impl IntoView {
    let compare = RwSignal::new(false);
    // The word whose attention map is laid over the images (None: plain).
    let word = RwSignal::new(None::<usize>);
    // The images on the projector: the compare pair, else the newest. One
    // copy per run, which everything below reads (an image carries every
    // word's map for every step).
    let shown = Memo::new(move |_| {
        let n = if stage.comparing.get() { 2 } else { 1 };
        stage
            .images
            .with(|images| images[images.len().saturating_sub(n)..].to_vec())
    });
    let words = move || {
        shown.with(|s| {
            s.first()
                .map(|i| i.maps.iter().map(|m| m.word.clone()).collect::<Vec<_>>())
                .unwrap_or_default()
        })
    };
    let link = Memo::new(move |_| {
        shown.with(|s| {
            s.last()
                .filter(|i| !i.link.is_empty())
                .and_then(|i| absolute(&i.link))
        })
    });

    listen_for_keys(open, move |key: Key| match key {
        Key::NextPreset => {
            word.set(None);
            next_preset.run(());
        }
        Key::Generate => {
            word.set(None);
            generate.run(compare.get_untracked());
        }
        Key::ToggleCompare => compare.update(|c| *c = !*c),
        Key::NextWord => {
            let n = untrack(words).len();
            word.update(|w| {
                *w = match *w {
                    None if n > 0 => Some(0),
                    Some(i) if i + 1 < n => Some(i + 1),
                    _ => None,
                }
            });
        }
        Key::Leave => open.set(false),
    });
    // Full screen where the browser allows it (it needs the click that
    // opened the view); the view fills the window either way.
    let root = NodeRef::<leptos::html::Div>::new();
    Effect::new(move |_| {
        let document = web_sys::window().and_then(|w| w.document());
        if open.get() {
            if let Some(el) = root.get() {
                let _ = el.request_fullscreen();
            }
        } else if let Some(d) = document.filter(|d| d.fullscreen_element().is_some()) {
            d.exit_fullscreen();
        }
    });

    let figures = move || {
        let chosen = word.get();
        shown
            .get()
            .into_iter()
            .map(|img| {
                let src = chosen
                    .and_then(|i| img.maps.get(i))
                    .map(|m| m.overlay.clone())
                    .unwrap_or(img.src);
                view! {
                    <figure>
                        <img data-testid="presenter-image" src=src alt="synthetic chest X-ray"/>
                        <figcaption>{img.caption}</figcaption>
                    </figure>
                }
            })
            .collect_view()
    };
    // Nothing inside is built, nor follows the runs, while the view is closed.
    view! {
        <div class="presenter" data-testid="presenter" node_ref=root hidden=move || !open.get()>
          <Show when=move || open.get()>
            <div class="stage" class:pair=move || shown.with(Vec::len) == 2 && stage.preview.with(Option::is_none)>
                {move || match stage.preview.get() {
                    Some(src) => view! {
                        <figure>
                            <img data-testid="presenter-preview" src=src alt="the image forming"/>
                        </figure>
                    }.into_any(),
                    None => figures.into_any(),
                }}
            </div>
            <Aside link progress=stage.progress compare
                word=Signal::derive(move || word.get().and_then(|i| words().get(i).cloned()))/>
            <p class="prompt" data-testid="presenter-prompt">{move || stage.prompt.get()}</p>
            <p class="keys"><span class="hint">"N next finding · G generate · C compare · A attention · Esc leave"</span>
                <span class="link" data-testid="presenter-link">{move || link.get()}</span></p>
          </Show>
        </div>
    }
}

/// The side column: the QR code of the shown image's link, the step line,
/// whether compare is on, and the word whose attention is shown.
#[component]
fn Aside(
    link: Memo<Option<String>>,
    progress: RwSignal<Option<crate::news::Progress>>,
    compare: RwSignal<bool>,
    word: Signal<Option<String>>,
) -> impl IntoView {
    let qr = move || link.get().map(|l| qr_svg(&l));
    view! {
        <aside>
            {move || match qr() {
                Some(Ok(svg)) => view! {
                    <div class="qr" data-testid="presenter-qr" inner_html=svg></div>
                    <p>"Scan to make this image on your phone"</p>
                }.into_any(),
                Some(Err(e)) => view! { <p>{e}</p> }.into_any(),
                None => view! { <p data-testid="presenter-qr-none">"No link yet: generate an image"</p> }.into_any(),
            }}
            <p class="step" data-testid="presenter-step">{move || progress.get().map(|p| p.to_string())}</p>
            <p data-testid="presenter-compare">{move || if compare.get() {
                "Compare: on (with and without the finding, same seed)"
            } else {
                "Compare: off"
            }}</p>
            <p data-testid="presenter-word">{move || word.get()
                .map(|w| format!("Attention: \u{201c}{w}\u{201d}"))}</p>
        </aside>
    }
}
