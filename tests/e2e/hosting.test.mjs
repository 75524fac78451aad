// Hosting for a class (issue 24): Debian's nginx on the site that
// deploy/nginx/site.sh writes, over HTTPS with a certificate made here. The
// page comes from one origin and a gated model from a second; the test
// checks what the recipe promises (types, compression, caching, ranges,
// CORS, the password), then opens the page as a student would: refused with
// a sentence that says what to do, loaded with the password, through a
// shard transfer cut by nginx's worker dying mid-way and resumed.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { request } from 'node:https';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startNginx } from './nginx.mjs';
import { ENGINE, PAGE_LOGIC, TINY, launch, openPage, resultImages, settled, waitForText } from './browser.mjs';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DIST = join(ROOT, 'dist/');
const MANIFEST = JSON.parse(readFileSync(join(DIST, TINY, 'manifest.json'), 'utf8'));
const SHARD = MANIFEST.shards[0];
let browser;
let nginx;

/** Both tests run on Firefox (PAGE_LOGIC): the server's answers are the same for any browser. */
const HERE = ENGINE === 'firefox';

before(async () => {
  if (!HERE) return;
  browser = await launch();
  // 1 MB/s: the tiny model's 5 MB shard takes seconds, time to cut it.
  nginx = await startNginx({ dist: DIST, models: { 'tiny-sd2': join(DIST, TINY) }, shardRate: '1m' });
});

after(async () => {
  await browser?.close();
  await nginx?.close();
});

/** GET (or `method`) `url` with node's own client, trusting the test's certificate. */
function get(url, headers = {}, method = 'GET') {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers, ca: nginx.ca }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('nginx serves what the hosting recipe promises: types, compression, caching, ranges, CORS and the password', PAGE_LOGIC, async () => {
  const gz = { 'Accept-Encoding': 'gzip' };
  const wasm = readFileSync(join(DIST, 'index.html'), 'utf8').match(/roentgen-app-[0-9a-f]{16}_bg\.wasm/)[0];
  const code = await get(`${nginx.page}/${wasm}`, gz);
  assert.equal(code.status, 200);
  assert.equal(code.headers['content-type'], 'application/wasm');
  assert.equal(code.headers['content-encoding'], 'gzip', 'the page\'s code is compressed');
  assert.match(code.headers['cache-control'], /immutable/, 'a hashed file is cached for good');
  const index = await get(`${nginx.page}/`, gz);
  assert.equal(index.headers['cache-control'], 'no-cache', 'the page itself is revalidated');

  const auth = { Authorization: `Bearer ${nginx.password}` };
  const shardUrl = `${nginx.models}/tiny-sd2/${SHARD.file}?sha256=${SHARD.sha256}`;
  const part = await get(shardUrl, { ...gz, ...auth, Range: 'bytes=1000-1999' });
  assert.equal(part.status, 206);
  assert.equal(part.headers['content-range'], `bytes 1000-1999/${SHARD.bytes}`);
  assert.equal(part.headers['content-encoding'], undefined, 'shards are not compressed');
  assert.deepEqual(part.body, readFileSync(join(DIST, TINY, SHARD.file)).subarray(1000, 2000));
  assert.equal(part.headers['cache-control'], 'public, max-age=31536000, immutable');
  const unhashed = await get(`${nginx.models}/tiny-sd2/${SHARD.file}`, { ...auth, Range: 'bytes=0-0' });
  assert.equal(unhashed.headers['cache-control'], 'no-cache', 'a shard URL without its hash is revalidated');
  const manifest = await get(`${nginx.models}/tiny-sd2/manifest.json`, { ...gz, ...auth });
  assert.equal(manifest.status, 200);
  assert.equal(manifest.headers['cache-control'], 'no-store', 'the manifest is never cached');
  assert.equal(manifest.headers['access-control-allow-origin'], nginx.page);

  // The browser's preflight carries no password and must be answered.
  const preflight = await get(shardUrl, {
    Origin: nginx.page, 'Access-Control-Request-Method': 'GET', 'Access-Control-Request-Headers': 'authorization,range',
  }, 'OPTIONS');
  assert.equal(preflight.status, 204);
  assert.match(preflight.headers['access-control-allow-headers'], /Authorization/);
  assert.match(preflight.headers['access-control-allow-headers'], /Range/);
  for (const headers of [{}, { Authorization: 'Bearer wrong-password' }]) {
    const refused = await get(`${nginx.models}/tiny-sd2/manifest.json`, { Origin: nginx.page, ...headers });
    assert.equal(refused.status, 401);
    assert.equal(refused.headers['access-control-allow-origin'], nginx.page, 'a 401 the page can read');
  }
  const other = await get(`${nginx.models}/tiny-sd2/manifest.json`, { Origin: 'https://elsewhere.example', ...auth });
  assert.equal(other.headers['access-control-allow-origin'], nginx.page, 'only the page\'s origin is allowed');

  const redirect = await fetch(`${nginx.redirect}/?model=x`, { redirect: 'manual' });
  assert.equal(redirect.status, 301);
  assert.equal(redirect.headers.get('location'), `${nginx.page}/?model=x`);
});

test('site.sh refuses, in one sentence, what a lecturer could get wrong', PAGE_LOGIC, () => {
  const dir = mkdtempSync(join(tmpdir(), 'roentgen-site-'));
  const site = (...args) => {
    try {
      execFileSync(join(ROOT, 'deploy/nginx/site.sh'), args, { stdio: 'pipe' });
      return null;
    } catch (e) {
      assert.equal(e.status, 2);
      return e.stderr.toString().trim().split('\n').at(0);
    }
  };
  try {
    writeFileSync(join(dir, 'short'), 'secret\n');
    writeFileSync(join(dir, 'good'), 'a-long-enough-password\n');
    const base = ['--host', 'roentgen.example.org', '--models', DIST, '--cert', join(dir, 'good'), '--key', join(dir, 'good')];
    assert.match(site('--host'), /--host needs a value/);
    assert.match(site(...base, '--dist', dir, '--password-file', join(dir, 'good')), /has no index\.html: run `trunk build --release`/);
    assert.match(site(...base, '--dist', DIST, '--password-file', join(dir, 'short')), /must be 12 or more letters/);
    assert.match(site(...base, '--dist', DIST, '--password-file', dir), /cannot read --password-file/);
    assert.match(site('--host', 'roentgen.example.org', '--dist', DIST, '--models', DIST, '--password-file', join(dir, 'good')),
      /no certificate at \/etc\/letsencrypt\/live\/roentgen\.example\.org\/fullchain\.pem: see docs\/hosting\.md/);
    assert.match(site(...base, '--dist', DIST, '--password-file', join(dir, 'good'), '--models', dir), /holds no converted model/);
    assert.equal(site(...base, '--dist', DIST, '--password-file', join(dir, 'good')), null, 'and writes the site when all is right');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('over HTTPS from one origin, a gated model from another: a 401 explained, then loaded with the password through a cut transfer, and drawn', PAGE_LOGIC, async () => {
  const earlier = nginx.log().length;
  const link = `${nginx.page}/?model=${encodeURIComponent(`${nginx.models}/tiny-sd2/`)}`;
  const s = await openPage(browser, link);
  assert.equal(await s.page.evaluate(() => window.isSecureContext), true);
  assert.match(s.status, /^error: .*HTTP 401 — the host wants credentials: enter an Authorization value/, s.status);

  await s.page.getByTestId('authorization').fill(`Bearer ${nginx.password}`);
  await s.page.getByTestId('load').click();
  // Bytes are flowing (a rate is shown): nginx's worker dies, the
  // connection with it; the master starts another.
  await waitForText(s.page, 'download', /^downloading: .*MB\/s/);
  const [worker] = nginx.workers();
  process.kill(worker, 'SIGKILL');
  await settled(s.page);
  assert.equal(await s.page.getByTestId('status').textContent(), 'ready');
  assert.notDeepEqual(nginx.workers(), [worker], 'a new worker served the rest');

  // The killed worker logged nothing; its successor served the rest.
  const shardGets = nginx.log().slice(earlier).filter((r) => r.uri === `/tiny-sd2/${SHARD.file}` && r.method === 'GET');
  const resumed = shardGets.find((r) => r.status === 206);
  assert.ok(resumed, JSON.stringify(shardGets));
  const from = Number(/^bytes=(\d+)-$/.exec(resumed.range)?.[1]);
  assert.ok(from > 0 && from < SHARD.bytes, `resumed with ${resumed.range}`);
  assert.equal(resumed.sent, SHARD.bytes - from);
  assert.equal(resumed.args, `sha256=${SHARD.sha256}`, 'the page names a shard by its hash');
  assert.equal(resumed.auth, 'given');
  console.log(`# shard of ${SHARD.bytes} bytes cut after ${from} bytes by killing nginx's worker; resumed with "${resumed.range}"`);

  await s.page.getByTestId('prompt').fill('small left pleural effusion');
  await s.page.getByTestId('steps').fill('2');
  await s.page.getByTestId('generate').click();
  await settled(s.page);
  assert.equal(await s.page.getByTestId('status').textContent(), 'done');
  assert.equal((await resultImages(s.page)).length, 1);
  assert.equal(await s.page.evaluate((pw) => JSON.stringify(localStorage).includes(pw), nginx.password), false,
    'the password is not kept');
  assert.deepEqual(s.errors, []);
  await s.context.close();
});
