//! The browser's fetch, as the loader needs it: credentials for gated hosts,
//! bodies read as a stream (progress and sha256 as bytes arrive), a broken
//! transfer resumed with a Range request, a failed shard retried once.

use js_sys::{Reflect, Uint8Array};
use roentgen_weights::{Sha256Stream, ShardEntry};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// How to authenticate to the host of the weights. Never part of a share
/// link: a link carries the model's address, not anybody's key.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Credentials {
    /// Sent as the `Authorization` header (e.g. "Bearer ...").
    pub authorization: Option<String>,
    /// Send the browser's cookies for the host (`credentials: "include"`);
    /// the host must answer with its exact origin and
    /// `Access-Control-Allow-Credentials: true`.
    pub cookies: bool,
}

pub fn js(e: JsValue) -> String {
    e.as_string()
        .or_else(|| {
            e.dyn_ref::<js_sys::Error>()
                .map(|e| String::from(e.message()))
        })
        .or_else(|| js_sys::JSON::stringify(&e).ok().and_then(|s| s.as_string()))
        .unwrap_or_else(|| "unknown error".into())
}

/// Why a request failed: `retry` is false where asking again cannot help.
struct Failure {
    message: String,
    retry: bool,
}

fn explain(url: &str, status: u16) -> Failure {
    let hint = match status {
        401 | 403 => {
            " — the host wants credentials: enter an Authorization value or allow cookies under \"Model source\""
        }
        404 => " — not found: is the model URL right?",
        _ => "",
    };
    Failure {
        message: format!("{url}: HTTP {status}{hint}"),
        retry: status >= 500 || status == 408 || status == 429,
    }
}

async fn request(
    url: &str,
    creds: &Credentials,
    range_from: u64,
) -> Result<web_sys::Response, Failure> {
    let init = web_sys::RequestInit::new();
    let headers = web_sys::Headers::new().map_err(|e| Failure {
        message: js(e),
        retry: false,
    })?;
    if let Some(a) = &creds.authorization {
        headers.set("Authorization", a).map_err(|e| Failure {
            message: format!("Authorization header: {}", js(e)),
            retry: false,
        })?;
    }
    if range_from > 0 {
        let _ = headers.set("Range", &format!("bytes={range_from}-"));
    }
    init.set_headers(&headers);
    init.set_credentials(if creds.cookies {
        web_sys::RequestCredentials::Include
    } else {
        web_sys::RequestCredentials::SameOrigin
    });
    let fetching = crate::global::fetch(url, &init).ok_or(Failure {
        message: "no fetch in this context".into(),
        retry: false,
    })?;
    let resp: web_sys::Response = JsFuture::from(fetching)
        .await
        .map_err(|e| Failure {
            // A refused CORS request looks like a network error here.
            message: format!(
                "{url}: {} (offline, or the host does not allow this page's origin)",
                js(e)
            ),
            retry: true,
        })?
        .dyn_into()
        .map_err(|e| Failure {
            message: js(e),
            retry: false,
        })?;
    if !resp.ok() {
        return Err(explain(url, resp.status()));
    }
    Ok(resp)
}

/// A small file, whole (manifest, tokenizer), with one retry.
pub async fn bytes(url: &str, creds: &Credentials) -> Result<Vec<u8>, String> {
    let mut last = String::new();
    for _ in 0..2 {
        let fail = match request(url, creds, 0).await {
            Ok(resp) => match resp.array_buffer().map(JsFuture::from) {
                Ok(p) => match p.await {
                    Ok(buf) => return Ok(Uint8Array::new(&buf).to_vec()),
                    Err(e) => Failure {
                        message: format!("{url}: {}", js(e)),
                        retry: true,
                    },
                },
                Err(e) => Failure {
                    message: js(e),
                    retry: false,
                },
            },
            Err(f) => f,
        };
        last = fail.message;
        if !fail.retry {
            break;
        }
    }
    Err(last)
}

/// Reads `resp`'s body onto `buf`, hashing and reporting as it goes. Err
/// means the transfer broke after `buf.len()` bytes.
async fn stream_into(
    resp: &web_sys::Response,
    buf: &mut Vec<u8>,
    hash: &mut Sha256Stream,
    limit: u64,
    on_bytes: &mut impl FnMut(u64),
) -> Result<(), String> {
    let body = resp.body().ok_or("response without a body")?;
    let reader: web_sys::ReadableStreamDefaultReader = body.get_reader().unchecked_into();
    loop {
        let chunk = JsFuture::from(reader.read()).await.map_err(js)?;
        if Reflect::get(&chunk, &"done".into())
            .map_err(js)?
            .as_bool()
            .unwrap_or(true)
        {
            return Ok(());
        }
        let value: Uint8Array = Reflect::get(&chunk, &"value".into())
            .map_err(js)?
            .dyn_into()
            .map_err(js)?;
        let start = buf.len();
        if start as u64 + value.length() as u64 > limit {
            let _ = reader.cancel();
            return Err(format!("more bytes than the manifest's {limit}"));
        }
        buf.resize(start + value.length() as usize, 0);
        value.copy_to(&mut buf[start..]);
        hash.update(&buf[start..]);
        on_bytes(buf.len() as u64);
    }
}

/// How many times a broken transfer of one shard is resumed, and how many
/// times the whole shard is fetched again after a failed check.
const RESUMES: usize = 3;
const RETRIES: usize = 1;

/// Downloads one shard and checks it against the manifest. A transfer that
/// breaks is resumed from where it stopped with `Range: bytes=N-` (from the
/// start if the host ignores ranges); a shard that fails its length or sha256
/// is fetched once more from scratch; then the error names the shard.
/// `on_bytes(n)` reports the bytes in so far (it may go back to 0).
pub async fn shard(
    url: &str,
    entry: &ShardEntry,
    creds: &Credentials,
    mut on_bytes: impl FnMut(u64),
) -> Result<Vec<u8>, String> {
    let mut last = String::new();
    'attempt: for _ in 0..=RETRIES {
        let mut buf = Vec::with_capacity(entry.bytes as usize);
        let mut hash = Sha256Stream::default();
        on_bytes(0);
        let mut resumes = 0;
        loop {
            let from = buf.len() as u64;
            let resp = match request(url, creds, from).await {
                Ok(r) => r,
                Err(f) if f.retry && resumes < RESUMES => {
                    resumes += 1;
                    continue;
                }
                Err(f) => return Err(format!("shard {}: {}", entry.file, f.message)),
            };
            if from > 0 && resp.status() != 206 {
                // The host sent the whole file again: start over.
                buf.clear();
                hash = Sha256Stream::default();
                on_bytes(0);
            }
            match stream_into(&resp, &mut buf, &mut hash, entry.bytes, &mut on_bytes).await {
                // The body ended early: ask for the rest.
                Ok(()) if (buf.len() as u64) < entry.bytes && resumes < RESUMES => resumes += 1,
                Ok(()) => break,
                // The transfer broke: resume where it stopped.
                Err(_) if resumes < RESUMES => resumes += 1,
                Err(e) => {
                    last = format!(
                        "shard {}: {url}: transfer broke {} times, last after {} bytes: {e}",
                        entry.file,
                        resumes + 1,
                        buf.len()
                    );
                    continue 'attempt;
                }
            }
        }
        match hash.finish(&entry.file, entry.bytes, &entry.sha256) {
            Ok(()) => return Ok(buf),
            Err(e) => last = e.to_string(),
        }
    }
    Err(last)
}
