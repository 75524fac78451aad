//! A small HTTP/1.1 file server that misbehaves on request, for the loader's
//! tests here and the CLI's (native only; not used by the product).

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

/// What the server holds and how it misbehaves; shared with the test.
#[derive(Default)]
pub struct Server {
    pub files: HashMap<String, Vec<u8>>,
    /// Paths whose next response stops halfway and closes.
    pub break_next: HashSet<String>,
    /// Every response stops halfway.
    pub always_break: bool,
    pub ignore_range: bool,
    pub auth: Option<String>,
    /// (path, Range header) of every request.
    pub log: Vec<(String, Option<String>)>,
}

/// Serves `state` on 127.0.0.1 from a thread; returns `http://addr/model`.
pub fn serve(state: Arc<Mutex<Server>>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            let path = line
                .split_whitespace()
                .nth(1)
                .unwrap_or("/")
                .trim_start_matches('/')
                .to_string();
            let mut headers = HashMap::new();
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).is_err() || h.trim().is_empty() {
                    break;
                }
                if let Some((k, v)) = h.split_once(':') {
                    headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
                }
            }
            let mut s = state.lock().unwrap();
            let range = headers.get("range").cloned();
            s.log.push((path.clone(), range.clone()));
            if s.auth.is_some() && headers.get("authorization") != s.auth.as_ref() {
                let _ = stream.write_all(
                    b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
                continue;
            }
            let Some(body) = s.files.get(&path).cloned() else {
                let _ = stream.write_all(
                    b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
                continue;
            };
            let from = range.filter(|_| !s.ignore_range).and_then(|r| {
                r.strip_prefix("bytes=")?
                    .strip_suffix('-')?
                    .parse::<usize>()
                    .ok()
            });
            let (status, part) = match from {
                Some(f) => ("206 Partial Content", &body[f..]),
                None => ("200 OK", &body[..]),
            };
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                part.len()
            );
            let _ = stream.write_all(head.as_bytes());
            if s.break_next.remove(&path) || s.always_break {
                let _ = stream.write_all(&part[..part.len() / 2]);
            } else {
                let _ = stream.write_all(part);
            }
        }
    });
    format!("http://{addr}/model")
}

impl Server {
    /// Every file of a local folder, served under `model/`.
    pub fn with_folder(dir: &std::path::Path) -> std::io::Result<Self> {
        let mut s = Self::default();
        for e in std::fs::read_dir(dir)? {
            let p = e?.path();
            let name = p
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_string();
            s.files.insert(format!("model/{name}"), std::fs::read(&p)?);
        }
        Ok(s)
    }
}
