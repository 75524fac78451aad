//! The page's frame: title, disclaimer, and the panels.

use leptos::prelude::*;

use crate::adapter_panel::AdapterPanel;
use crate::generate_panel::GeneratePanel;

/// Root component.
#[component]
pub fn App() -> impl IntoView {
    view! {
        <header>
            <h1>"RoentGen Web"</h1>
            <p class="tagline">
                "Synthetic chest X-rays from radiology text, computed on your own GPU. "
                "Nothing leaves your browser."
            </p>
        </header>
        <main>
            <AdapterPanel/>
            <GeneratePanel/>
        </main>
        <footer>
            <p class="disclaimer">
                "Generated images are synthetic and not for diagnosis."
            </p>
        </footer>
    }
}
