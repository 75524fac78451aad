// A tiny static file server for the built page (dist/), bound to 127.0.0.1 on
// a free port. It records every request so tests can count fetches, answers
// `Range: bytes=N-` with 206 as CDNs do, and can misbehave on purpose:
//   flaky:       paths whose first GET stops halfway (the socket is cut)
//   secret:      refuse (401) any request without `Authorization: Bearer
//                <secret>` or the cookie `roentgen=<secret>`
//   allowOrigin: answer CORS for that origin, credentials included (a gated
//                host on another origin than the page)
import { createServer } from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import { extname, join, normalize, resolve } from 'node:path';

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.wasm': 'application/wasm',
  '.css': 'text/css',
  '.json': 'application/json',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.webmanifest': 'application/manifest+json',
};

export async function serveDist(dir, { flaky = [], secret, allowOrigin } = {}) {
  const root = resolve(dir);
  const requests = [];
  const log = [];
  const breakOnce = new Set(flaky);
  const server = createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    requests.push(path);
    log.push({
      method: req.method,
      path,
      range: req.headers.range,
      authorization: req.headers.authorization,
      cookie: req.headers.cookie,
    });
    if (allowOrigin) {
      res.setHeader('access-control-allow-origin', allowOrigin);
      res.setHeader('access-control-allow-credentials', 'true');
      res.setHeader('access-control-allow-headers', 'authorization, range');
      res.setHeader('access-control-expose-headers', 'content-range, content-length');
      res.setHeader('vary', 'origin');
    }
    if (req.method === 'OPTIONS') {
      res.writeHead(204).end();
      return;
    }
    if (secret) {
      const cookies = (req.headers.cookie ?? '').split(/;\s*/);
      if (req.headers.authorization !== `Bearer ${secret}` && !cookies.includes(`roentgen=${secret}`)) {
        res.writeHead(401).end('credentials required');
        return;
      }
    }
    let file = normalize(join(root, path));
    if (!file.startsWith(root)) {
      res.writeHead(403).end();
      return;
    }
    let body;
    try {
      if ((await stat(file)).isDirectory()) file = join(file, 'index.html');
      body = await readFile(file);
    } catch {
      res.writeHead(404).end('not found');
      return;
    }
    const type = TYPES[extname(file)] ?? 'application/octet-stream';
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (range && Number(range[1]) < body.length) {
      const start = Number(range[1]);
      res.writeHead(206, {
        'content-type': type,
        'content-length': body.length - start,
        'content-range': `bytes ${start}-${body.length - 1}/${body.length}`,
      });
      res.end(body.subarray(start));
      return;
    }
    res.writeHead(200, { 'content-type': type, 'content-length': body.length });
    if (breakOnce.delete(path)) {
      res.write(body.subarray(0, body.length >> 1), () => res.socket.destroy());
      return;
    }
    res.end(body);
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}/`,
    origin: `http://127.0.0.1:${port}`,
    requests,
    log,
    // Stops answering at once: open keep-alive connections are cut too, so
    // a page that asks again finds nothing there (the offline test).
    close: () => new Promise((ok) => {
      server.close(ok);
      server.closeAllConnections();
    }),
  };
}
