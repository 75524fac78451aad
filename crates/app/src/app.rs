//! The page's frame: title, disclaimer, and the panels.

use leptos::prelude::*;

use crate::adapter_panel::AdapterPanel;
use crate::generate_panel::GeneratePanel;
use crate::probe::Probe;

/// Root component.
#[component]
pub fn App() -> impl IntoView {
    // The worker's adapter report and kernel check: the generate panel owns
    // the worker and fills it in, the GPU panel shows it.
    let (probe, set_probe) = signal(None::<Probe>);
    view! {
        <header>
            <h1>"RoentGen Web"</h1>
            <p class="tagline">
                "Synthetic chest X-rays from radiology text, computed on your own GPU. "
                "Nothing leaves your browser."
            </p>
        </header>
        <main>
            <GeneratePanel probe set_probe/>
            <AdapterPanel probe/>
        </main>
        <footer>
            <p class="disclaimer">
                "Generated images are synthetic and not for diagnosis."
            </p>
        </footer>
    }
}
