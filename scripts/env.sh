# Sourced by the scripts: puts the npm-installed wasm-opt on PATH for Trunk and
# quiets lavapipe's warning about a missing runtime directory.
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PATH="$ROOT/node_modules/.bin:$HOME/.cargo/bin:$PATH"
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}"
