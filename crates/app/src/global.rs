//! The few browser services the loader needs, from whichever global scope the
//! code runs in: the page's `Window` or the generation worker's
//! `WorkerGlobalScope` (both have fetch, storage and caches).

use wasm_bindgen::JsCast;

enum Scope {
    Window(web_sys::Window),
    Worker(web_sys::WorkerGlobalScope),
}

fn scope() -> Option<Scope> {
    let g = js_sys::global();
    if let Some(w) = g.dyn_ref::<web_sys::Window>() {
        return Some(Scope::Window(w.clone()));
    }
    g.dyn_ref::<web_sys::WorkerGlobalScope>()
        .map(|w| Scope::Worker(w.clone()))
}

pub fn fetch(url: &str, init: &web_sys::RequestInit) -> Option<js_sys::Promise> {
    Some(match scope()? {
        Scope::Window(w) => w.fetch_with_str_and_init(url, init),
        Scope::Worker(w) => w.fetch_with_str_and_init(url, init),
    })
}

pub fn storage() -> Option<web_sys::StorageManager> {
    Some(match scope()? {
        Scope::Window(w) => w.navigator().storage(),
        Scope::Worker(w) => w.navigator().storage(),
    })
}

pub fn caches() -> Option<web_sys::CacheStorage> {
    match scope()? {
        Scope::Window(w) => w.caches().ok(),
        Scope::Worker(w) => w.caches().ok(),
    }
}
