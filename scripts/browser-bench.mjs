#!/usr/bin/env node
// Seconds per sampler step in the page, in headless Chromium on this
// machine's WebGPU adapter (SwiftShader without a GPU). Serves dist/ (run
// `trunk build --release` first), opens the page on each model, generates
// STEPS steps and times the progress line's step changes from the second
// step on (the first builds pipelines and buffers). Prints one JSON line per
// model. Not a test: nothing is asserted; numbers are for benchmarks/README.md.
//
//   node scripts/browser-bench.mjs [dist/] [steps]
import { join, resolve } from 'node:path';
import { serveDist } from '../tests/e2e/static-server.mjs';
import { launch, openPage, waitUntil } from '../tests/e2e/browser.mjs';

const dist = resolve(process.argv[2] ?? 'dist/');
const STEPS = Number(process.argv[3] ?? 8);
const MODELS = [
  { name: 'tiny-sd2 (random, 2 levels)', query: '?model=tiny-sd2%2F' },
  { name: 'demo model (128x128)', query: '' },
];

const server = await serveDist(join(dist, '/'));
const browser = await launch();
try {
  for (const m of MODELS) {
    const { page, context, status } = await openPage(browser, server.url + m.query);
    if (status !== 'ready') throw new Error(`${m.name}: ${status}`);
    await page.getByTestId('prompt').fill('Large left pleural effusion.');
    await page.getByTestId('seed').fill('1');
    await page.getByTestId('steps').fill(String(STEPS));
    await page.getByTestId('scheduler').selectOption('dpm++2m');
    await page.getByTestId('generate').click();
    const times = [];
    for (let k = 1; k <= STEPS; k++) {
      await waitUntil(page, (k) => new RegExp(`step ${k} of`).test(document.querySelector('[data-testid=progress]')?.textContent ?? ''), k);
      times.push(Date.now());
    }
    await waitUntil(page, () => /^(done|error)/.test(document.querySelector('[data-testid=status]')?.textContent ?? ''));
    const perStep = (times[STEPS - 1] - times[1]) / (STEPS - 2) / 1000;
    const first = (times[1] - times[0]) / 1000;
    console.log(JSON.stringify({ model: m.name, steps: STEPS, seconds_per_step_after_the_second: +perStep.toFixed(3), step_2_s: +first.toFixed(3) }));
    await context.close();
  }
} finally {
  await browser.close();
  await server.close();
}
