//! Entry point of the generation worker (built by Trunk as a web worker and
//! started by the page): installs the message handler, nothing else.

fn main() {
    console_error_panic_hook::set_once();
    roentgen_app::engine::start();
}
