#!/usr/bin/env node
// RoentGen's folder converted in the page, measured: a diffusers folder
// (e.g. `weights-tools random --layout diffusers --out DIR`, full-size SD
// v1.5) chosen under "Model source" is converted by the worker into a
// stored model, loaded, and checked with "Check" (the 512x512 pipeline
// built on a dry-run device, nothing run). Prints the conversion's and the
// load's lines (time, wasm heap, GPU memory), the check's verdict and
// Chromium's memory (RSS and PSS) at peak by process for each phase (ps every
// 250 ms). Persistent profile (a temporary folder), as a visitor's browser
// is. Not a test: nothing is asserted; the numbers are for benchmarks/README.md.
//
//   node scripts/browser-convert-bench.mjs DIFFUSERS_DIR [dist/] [f16|q8]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { serveDist } from '../tests/e2e/static-server.mjs';
import { rssPeakSampler } from './browser-rss.mjs';
import { convertFolder, launchPersistentChromium, openPage, settled, waitForText } from '../tests/e2e/browser.mjs';

const folder = resolve(process.argv[2]);
const dist = resolve(process.argv[3] ?? 'dist/');
const dtype = process.argv[4] ?? 'f16';

const server = await serveDist(join(dist, '/'));
const profile = mkdtempSync(join(tmpdir(), 'roentgen-profile-'));
const context = await launchPersistentChromium(profile);
const rss = rssPeakSampler();
try {
  const { page } = await openPage(null, `${server.url}?model=tiny-sd2%2F`, { context });
  rss.take();
  const t0 = Date.now();
  await convertFolder(page, folder, dtype);
  const converted = { seconds: (Date.now() - t0) / 1000, line: await page.getByTestId('progress').textContent(), ...rss.take() };
  await settled(page);
  const loaded = {
    status: await page.getByTestId('status').textContent(),
    seconds: (Date.now() - t0) / 1000 - converted.seconds,
    line: await page.getByTestId('download').textContent(),
    ...rss.take(),
  };
  const t1 = Date.now();
  await page.getByTestId('stored-check').click();
  await waitForText(page, 'check-line', /^this device: /);
  const checked = { seconds: (Date.now() - t1) / 1000, line: await page.getByTestId('check-line').textContent(), ...rss.take() };
  console.log(JSON.stringify({ folder, dtype, converted, loaded, checked }, null, 1));
} finally {
  rss.stop();
  await context.close();
  rmSync(profile, { recursive: true, force: true });
  await server.close();
}
