//! (Page side.) Starts the generation worker and talks to it: messages out as
//! JSON (plus chosen files), events back into a callback.

use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::prelude::Closure;
use wasm_bindgen::{JsCast, JsValue};

use crate::protocol::{FromWorker, ToWorker};

/// The loader Trunk writes for the worker binary, beside the page.
const WORKER_SCRIPT: &str = "./roentgen-worker_loader.js";

pub struct WorkerClient {
    worker: web_sys::Worker,
    /// Messages sent before the worker said `Started`.
    held: Rc<RefCell<Option<Vec<JsValue>>>>,
}

impl WorkerClient {
    pub fn spawn(on_event: impl Fn(FromWorker) + 'static) -> Result<Self, String> {
        let worker = web_sys::Worker::new(WORKER_SCRIPT)
            .map_err(|e| format!("could not start the worker: {}", crate::http::js(e)))?;
        let on_event = Rc::new(on_event);
        let events = on_event.clone();
        let held: Rc<RefCell<Option<Vec<JsValue>>>> = Rc::new(RefCell::new(Some(Vec::new())));
        let flush = (held.clone(), worker.clone());
        let on_message =
            Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |ev: web_sys::MessageEvent| {
                match ev
                    .data()
                    .as_string()
                    .and_then(|t| serde_json::from_str::<FromWorker>(&t).ok())
                {
                    Some(FromWorker::Started) => {
                        for m in flush.0.borrow_mut().take().unwrap_or_default() {
                            let _ = flush.1.post_message(&m);
                        }
                    }
                    Some(m) => events(m),
                    None => {}
                }
            });
        worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        on_message.forget();
        let on_error =
            Closure::<dyn FnMut(web_sys::ErrorEvent)>::new(move |ev: web_sys::ErrorEvent| {
                on_event(crate::protocol::failed(crate::protocol::Failure::Worker {
                    message: format!("the generation worker failed: {}", ev.message()),
                }));
            });
        worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        on_error.forget();
        Ok(Self { worker, held })
    }

    fn post(&self, m: JsValue) {
        match self.held.borrow_mut().as_mut() {
            Some(queue) => queue.push(m),
            None => {
                let _ = self.worker.post_message(&m);
            }
        }
    }

    pub fn send(&self, msg: &ToWorker) {
        if let Ok(json) = serde_json::to_string(msg) {
            self.post(json.into());
        }
    }

    /// A message with files beside it (File objects are cloned to the worker,
    /// not read here).
    pub fn send_with_files(&self, msg: &ToWorker, files: &[web_sys::File]) {
        if let Ok(json) = serde_json::to_string(msg) {
            let list: js_sys::Array = files.iter().collect();
            self.post(js_sys::Array::of2(&json.into(), &list).into());
        }
    }
}
