//! Fetching a converted model over HTTP(S), natively: the manifest, the
//! tokenizer and each shard, with optional credentials for gated hosting.
//! A shard is hashed while it streams in; a broken transfer resumes with a
//! Range request, a failed shard is retried once, and then the error names
//! the shard and the reason. Nothing unverified is returned.

use std::io::Read;
use std::time::Duration;

use crate::{Sha256Stream, ShardEntry, WeightsError};

/// A model folder behind a base URL.
pub struct HttpSource {
    base: String,
    headers: Vec<(String, String)>,
    agent: ureq::Agent,
}

/// Attempts per shard: the first, then one retry (each may resume).
const ATTEMPTS: usize = 2;

impl HttpSource {
    /// `base` is the folder's URL (`.../model/` or `.../model/manifest.json`);
    /// `authorization` and `cookie` are sent with every request when given.
    pub fn new(base: &str, authorization: Option<String>, cookie: Option<String>) -> Self {
        let base = crate::folder_url(base);
        let mut headers = Vec::new();
        if let Some(a) = authorization {
            headers.push(("Authorization".to_string(), a));
        }
        if let Some(c) = cookie {
            headers.push(("Cookie".to_string(), c));
        }
        let agent = ureq::Agent::config_builder()
            .timeout_connect(Some(Duration::from_secs(20)))
            .timeout_recv_body(Some(Duration::from_secs(60)))
            .build()
            .new_agent();
        Self {
            base,
            headers,
            agent,
        }
    }

    pub fn url(&self, file: &str) -> String {
        format!("{}{file}", self.base)
    }

    fn fail(&self, file: &str, reason: impl Into<String>) -> WeightsError {
        WeightsError::Fetch {
            url: self.url(file),
            reason: reason.into(),
        }
    }

    fn request(
        &self,
        file: &str,
        from: u64,
    ) -> Result<ureq::http::Response<ureq::Body>, ureq::Error> {
        let mut req = self.agent.get(&self.url(file));
        for (k, v) in &self.headers {
            req = req.header(k, v);
        }
        if from > 0 {
            req = req.header("Range", &format!("bytes={from}-"));
        }
        req.call()
    }

    fn status_reason(code: u16) -> String {
        match code {
            401 | 403 => format!(
                "HTTP {code}: the host wants credentials, or refused the ones given \
                 (the weights are gated: pass an Authorization header or cookie)"
            ),
            404 => "HTTP 404: not on the server (is the URL the converted folder?)".into(),
            c => format!("HTTP {c}"),
        }
    }

    /// A small file whose digest the manifest does not hold (the manifest itself).
    pub fn get(&self, file: &str, limit: u64) -> Result<Vec<u8>, WeightsError> {
        let mut last = String::new();
        for _ in 0..ATTEMPTS {
            match self.request(file, 0) {
                Ok(mut resp) => {
                    let mut out = Vec::new();
                    let read = resp
                        .body_mut()
                        .with_config()
                        .limit(limit)
                        .reader()
                        .read_to_end(&mut out);
                    match read {
                        Ok(_) => return Ok(out),
                        Err(e) => last = e.to_string(),
                    }
                }
                Err(ureq::Error::StatusCode(c)) => {
                    return Err(self.fail(file, Self::status_reason(c)));
                }
                Err(e) => last = e.to_string(),
            }
        }
        Err(self.fail(file, last))
    }

    /// One shard, verified. `progress(bytes so far, shard bytes)`.
    pub fn fetch_shard(
        &self,
        shard: &ShardEntry,
        mut progress: impl FnMut(u64, u64),
    ) -> Result<Vec<u8>, WeightsError> {
        let file = &shard.file;
        let mut buf: Vec<u8> = Vec::with_capacity(shard.bytes as usize);
        let mut hash = Sha256Stream::default();
        let mut failures = Vec::new();
        let mut chunk = vec![0u8; 256 * 1024];
        while failures.len() < ATTEMPTS {
            let from = buf.len() as u64;
            let mut resp = match self.request(file, from) {
                Ok(r) => r,
                Err(ureq::Error::StatusCode(c)) if matches!(c, 401 | 403 | 404) => {
                    return Err(self.fail(file, Self::status_reason(c)));
                }
                Err(e) => {
                    failures.push(e.to_string());
                    continue;
                }
            };
            if from > 0 && resp.status().as_u16() != 206 {
                // The server ignored the Range: start this shard over.
                buf.clear();
                hash = Sha256Stream::default();
            }
            let mut reader = resp
                .body_mut()
                .with_config()
                .limit(shard.bytes + 1)
                .reader();
            loop {
                match reader.read(&mut chunk) {
                    Ok(0) => break,
                    Ok(n) => {
                        if buf.len() + n > shard.bytes as usize {
                            return Err(WeightsError::LengthMismatch {
                                shard: file.clone(),
                                expected: shard.bytes,
                                got: (buf.len() + n) as u64,
                            });
                        }
                        hash.update(&chunk[..n]);
                        buf.extend_from_slice(&chunk[..n]);
                        progress(buf.len() as u64, shard.bytes);
                    }
                    Err(e) => {
                        failures.push(format!("broken after {} bytes: {e}", buf.len()));
                        break;
                    }
                }
            }
            if buf.len() as u64 == shard.bytes {
                hash.finish(file, shard.bytes, &shard.sha256)?;
                return Ok(buf);
            }
            if failures.len() < ATTEMPTS && failures.last().is_none_or(|f| !f.starts_with("broken"))
            {
                failures.push(format!(
                    "ended after {} of {} bytes",
                    buf.len(),
                    shard.bytes
                ));
            }
        }
        Err(self.fail(file, failures.join("; then ")))
    }
}
