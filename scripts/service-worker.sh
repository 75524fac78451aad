#!/usr/bin/env bash
# Trunk post-build hook (Trunk.toml): writes the build's service worker,
# web/sw.js with BUILD (a hash of the build's files) and FILES (the page's
# own files: index.html's scripts, wasm, styles, icons and the web app
# manifest; not the models, which the page stores itself).
set -euo pipefail
cd "$TRUNK_STAGING_DIR"
mapfile -t files < <(find . -maxdepth 1 -type f \
  \( -name '*.js' -o -name '*.wasm' -o -name '*.css' -o -name '*.png' -o -name '*.svg' \
     -o -name '*.webmanifest' -o -name 'index.html' \) ! -name sw.js -printf '%f\n' | sort)
build=$(cat "${files[@]}" | sha256sum | cut -c1-16)
list=$(printf '"%s",' "${files[@]}")
list="[${list%,}]"
sed -e "s|__BUILD__|$build|" -e "s|__FILES__|$list|" "$TRUNK_SOURCE_DIR/web/sw.js" > sw.js
echo "service worker: build $build, ${#files[@]} files"
