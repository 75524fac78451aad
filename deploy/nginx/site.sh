#!/usr/bin/env bash
# Writes an nginx site (on stdout) that hosts RoentGen Web for a class:
#
#   https://HOST/        the page (Trunk's dist/, with the bundled demo model)
#   https://HOST:8443/   converted models, gated by a password, for that page
#   http://HOST/         a redirect to the page, and certbot's renewals
#
# A lecturer chooses a host name and a password; everything else has a
# default. The file goes into nginx's `http {}` context (Debian:
# /etc/nginx/sites-enabled/), and tests/e2e/hosting.test.mjs runs nginx on
# exactly what this prints. docs/hosting.md is the recipe.
#
# Why two origins: the models are gated and the page is not (anyone may open
# it and use the demo model), and a model host on another origin is what a
# class with a CDN has too, so the page's CORS path is the one tested.
set -euo pipefail

usage() {
  cat >&2 <<'EOF'
usage: deploy/nginx/site.sh --host NAME --dist DIR --models DIR --password-file FILE
         [--cert FILE --key FILE] [--page-port 443] [--model-port 8443]
         [--redirect-port 80 | --redirect-port off] [--acme-root DIR]
         [--shard-rate RATE]

  --host           the name students type (and the certificate's name)
  --dist           the page: `trunk build --release`'s dist/
  --models         a folder of converted models (each a folder with manifest.json)
  --password-file  the models' password, one line; students enter it as
                   "Bearer PASSWORD" under "Model source"
  --cert, --key    PEM files (default: certbot's /etc/letsencrypt/live/NAME/)
  --shard-rate     cap each shard download at RATE bytes/s (nginx's limit_rate,
                   e.g. 2m), so one fast laptop cannot take a hall's uplink
EOF
  exit 2
}

host="" dist="" models="" password_file="" cert="" key=""
page_port=443 model_port=8443 redirect_port=80 acme_root=/var/www/letsencrypt shard_rate=0
while [ $# -gt 0 ]; do
  case "$1" in -h|--help) usage ;; esac
  [ $# -ge 2 ] || { echo "site.sh: $1 needs a value" >&2; exit 2; }
  case "$1" in
    --host) host=$2 ;;
    --dist) dist=$2 ;;
    --models) models=$2 ;;
    --password-file) password_file=$2 ;;
    --cert) cert=$2 ;;
    --key) key=$2 ;;
    --page-port) page_port=$2 ;;
    --model-port) model_port=$2 ;;
    --redirect-port) redirect_port=$2 ;;
    --acme-root) acme_root=$2 ;;
    --shard-rate) shard_rate=$2 ;;
    *) echo "site.sh: unknown option $1" >&2; usage ;;
  esac
  shift 2
done

fail() { echo "site.sh: $*" >&2; exit 2; }
[ -n "$host" ] && [ -n "$dist" ] && [ -n "$models" ] && [ -n "$password_file" ] || usage
[[ "$host" =~ ^[A-Za-z0-9.-]+$ ]] || fail "--host $host: a host name or IP address"
for p in "$page_port" "$model_port"; do
  [[ "$p" =~ ^[0-9]+$ ]] || fail "port $p: a number"
done
[ "$page_port" != "$model_port" ] || fail "the page and the models need two ports"
[ "$redirect_port" = off ] || [[ "$redirect_port" =~ ^[0-9]+$ ]] || fail "--redirect-port $redirect_port: a number or off"
[[ "$shard_rate" =~ ^[0-9]+[km]?$ ]] || fail "--shard-rate $shard_rate: bytes per second, e.g. 2m"
dist=$(realpath "$dist") models=$(realpath "$models")
[ -f "$dist/index.html" ] || fail "--dist $dist has no index.html: run \`trunk build --release\` and give its dist/"
ls "$models"/*/manifest.json >/dev/null 2>&1 ||
  fail "--models $models holds no converted model (a folder with manifest.json): convert one with weights-tools convert"
cert=${cert:-/etc/letsencrypt/live/$host/fullchain.pem}
key=${key:-/etc/letsencrypt/live/$host/privkey.pem}
[ -r "$cert" ] || fail "no certificate at $cert: see docs/hosting.md (certbot), or give --cert and --key"
[ -r "$key" ] || fail "no key at $key"
cert=$(realpath "$cert") key=$(realpath "$key")
[ -f "$password_file" ] && [ -r "$password_file" ] || fail "cannot read --password-file $password_file"
password=$(head -n1 "$password_file")
# The password goes into the configuration as a string: only characters that
# need no quoting there or in an HTTP header, and long enough not to guess.
[[ "$password" =~ ^[A-Za-z0-9._~+/=-]{12,}$ ]] ||
  fail "the password in $password_file must be 12 or more letters, digits or ._~+/=- (e.g. \`openssl rand -base64 18\`)"

# The origin the page is served from, as browsers write it (CORS compares it exactly).
page_origin="https://$host"
[ "$page_port" = 443 ] || page_origin="$page_origin:$page_port"

# What both servers share: types (this file's own list, so that a `.wasm` is
# application/wasm on any nginx), TLS, and compression for the page's code
# and JSON only. Shards are fp16/int8 weights that gzip barely shrinks, and
# a compressed response loses Range requests, which resume cut transfers.
shared_settings() {
  cat <<EOF
    ssl_protocols TLSv1.2 TLSv1.3;
    types {
        text/html html;
        text/css css;
        application/javascript js mjs;
        application/wasm wasm;
        application/json json;
        application/manifest+json webmanifest;
        image/png png;
        image/svg+xml svg;
        text/markdown md;
    }
    default_type application/octet-stream;
    gzip on;
    gzip_types text/css application/javascript application/wasm application/json application/manifest+json image/svg+xml;
    gzip_min_length 1024;
    gzip_vary on;
EOF
}

# The headers and checks of a gated model request: CORS for the page's
# origin on every answer (a 401 the page cannot read would look like a
# network failure), the preflight answered before the password is asked
# for (browsers send it without one), then the password.
gate() {
  local indent=$1
  sed "s/^/$indent/" <<EOF
add_header Access-Control-Allow-Origin "$page_origin" always;
add_header Access-Control-Allow-Methods "GET, HEAD, OPTIONS" always;
add_header Access-Control-Allow-Headers "Authorization, Range" always;
add_header Access-Control-Expose-Headers "Content-Length, Content-Range, ETag" always;
add_header Access-Control-Max-Age 600 always;
add_header Vary Origin always;
if (\$request_method = OPTIONS) {
    return 204;
}
if (\$roentgen_model_denied) {
    return 401;
}
EOF
}

# Where model folders are: the manifest never cached (it names the shards
# of the model's current version), shards under their hash for a year and
# at `--shard-rate`, anything else (tokenizer.json) revalidated.
model_locations() {
  local g=""
  [ -z "$1" ] || g="$(gate "        ")"$'\n'
  cat <<EOF

    location ~ "/manifest\\.json\$" {
${g}        add_header Cache-Control "no-store" always;
    }
    location ~ "/shard-[0-9]+\\.bin\$" {
${g}        gzip off;
        limit_rate $shard_rate;
        add_header Cache-Control \$roentgen_shard_cache always;
    }
EOF
  [ -z "$1" ] || cat <<EOF
    location / {
${g}        add_header Cache-Control "no-cache" always;
    }
EOF
}

cat <<EOF
# RoentGen Web for $host, written by deploy/nginx/site.sh. Do not edit by
# hand: run the script again (it holds the models' password).

# Shards are requested as NAME?sha256=HEX (the page does): that URL can never
# mean other bytes, so it is cached for a year; without the hash, revalidate.
map \$arg_sha256 \$roentgen_shard_cache {
    ""      "no-cache";
    default "public, max-age=31536000, immutable";
}

# The one Authorization value the models accept.
map \$http_authorization \$roentgen_model_denied {
    "Bearer $password" 0;
    default 1;
}

# The page: public, compressed, its hashed files cached for good.
server {
    listen $page_port ssl http2;
    server_name $host;
    ssl_certificate $cert;
    ssl_certificate_key $key;
    root $dist;
$(shared_settings)

    # Trunk names the page's code by its hash (NAME-0123456789abcdef.js);
    # the worker's files and the service worker keep their names.
    location ~ "-[0-9a-f]{16}(_bg\\.wasm|\\.js|\\.css)\$" {
        add_header Cache-Control "public, max-age=31536000, immutable" always;
    }
    location / {
        add_header Cache-Control "no-cache" always;
    }
$(model_locations "")
}

# The models: gated by the password, readable from the page's origin only.
server {
    listen $model_port ssl http2;
    server_name $host;
    ssl_certificate $cert;
    ssl_certificate_key $key;
    root $models;
$(shared_settings)
    autoindex off;
$(model_locations gated)
}
EOF

if [ "$redirect_port" != off ]; then
  https_host=$host
  [ "$page_port" = 443 ] || https_host="$host:$page_port"
  cat <<EOF

# Plain HTTP: certbot's renewals, and a redirect for those who type the name.
server {
    listen $redirect_port;
    server_name $host;
    location /.well-known/acme-challenge/ {
        root $acme_root;
    }
    location / {
        return 301 https://$https_host\$request_uri;
    }
}
EOF
fi
