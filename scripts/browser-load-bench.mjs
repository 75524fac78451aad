#!/usr/bin/env node
// A model load in the page, measured: time to ready, the worker's wasm heap
// (the page prints it in its load lines) and the memory (RSS and PSS, see
// browser-rss.mjs) of all of Chromium's processes, sampled every 250 ms
// (peak). Serves dist/ (run
// `trunk build --release` first) with MODEL_DIR linked in as dist/bench-model/.
// Then reloads the page and measures the next visit, whose shards all come
// from this browser's cache (OPFS). Not a test: nothing is asserted; the
// numbers are for benchmarks/README.md.
// By default in a persistent profile (a temporary folder), as a visitor's
// browser is: Playwright's usual contexts are off the record, where Chromium
// keeps OPFS in memory (and grants a small quota), which would count every
// cached shard as resident memory. EPHEMERAL=1 measures that case.
//
//   node scripts/browser-load-bench.mjs MODEL_DIR [dist/]
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { serveDist } from '../tests/e2e/static-server.mjs';
import { rssPeakSampler } from './browser-rss.mjs';
import { launch, launchPersistentChromium, openPage, settled } from '../tests/e2e/browser.mjs';

const modelDir = resolve(process.argv[2] ?? 'demo-model/model');
const dist = resolve(process.argv[3] ?? 'dist/');
const link = join(dist, 'bench-model');
rmSync(link, { force: true });
symlinkSync(modelDir, link);


const server = await serveDist(join(dist, '/'));
const ephemeral = process.env.EPHEMERAL === '1';
const profile = mkdtempSync(join(tmpdir(), 'roentgen-profile-'));
let browser;
let context;
if (ephemeral) {
  browser = await launch();
} else {
  context = await launchPersistentChromium(profile);
}
const rss = rssPeakSampler();
try {
  const t0 = Date.now();
  const { page, status } = await openPage(browser, `${server.url}?model=bench-model%2F`, { context });
  const seconds = (Date.now() - t0) / 1000;
  const line = await page.getByTestId('download').textContent();
  const peak = rss.take();
  console.log(JSON.stringify({
    model: modelDir,
    profile: ephemeral ? 'off the record' : 'persistent',
    visit: 'first (from the server)',
    status,
    ready_s: +seconds.toFixed(1),
    ...peak,
    load_line: line,
  }));
  // The next visit: every shard from this browser's cache.
  const t1 = Date.now();
  await page.reload();
  await settled(page);
  console.log(JSON.stringify({
    visit: 'next (from the cache)',
    status: await page.getByTestId('status').textContent(),
    ready_s: +((Date.now() - t1) / 1000).toFixed(1),
    ...rss.take(),
    load_line: await page.getByTestId('download').textContent(),
  }));
} finally {
  rss.stop();
  await (browser ?? context).close();
  rmSync(profile, { recursive: true, force: true });
  await server.close();
  rmSync(link, { force: true });
}
