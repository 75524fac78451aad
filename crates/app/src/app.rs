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
    // "Profile one step": the GPU panel asks, the worker answers through
    // the generate panel, which also says whether anything runs.
    let profile = RwSignal::new(crate::adapter_panel::ProfileState::NotRun);
    let idle = RwSignal::new(false);
    view! {
        <header>
            <h1>"RoentGen Web"</h1>
            <p class="tagline">
                "Synthetic chest X-rays from radiology text, computed on your own GPU. "
                "Nothing leaves your browser."
            </p>
        </header>
        <main>
            <GeneratePanel probe set_probe profile idle/>
            <AdapterPanel probe profile idle/>
        </main>
        <footer>
            <p class="disclaimer">
                "Generated images are synthetic and not for diagnosis."
            </p>
        </footer>
    }
}
