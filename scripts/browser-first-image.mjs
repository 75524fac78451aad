#!/usr/bin/env node
// What a first visitor waits for: the page opened with no link (the demo
// model, the page's own settings and example prompt), from the click on
// Generate to the finished image, and before that from opening the page to
// ready. Headless Chromium (SwiftShader without a GPU) or, with
// E2E_BROWSER=firefox, Firefox ESR (wgpu on Vulkan). Serves dist/ (run
// `trunk build --release` first). Not a test: nothing is asserted; the
// numbers are for benchmarks/README.md (issue 25's goal: under 60 s to the
// first image on SwiftShader on a 2-core machine).
//
//   node scripts/browser-first-image.mjs [dist/] [repeats] [?query]
//
// A query (`?steps=20`: the sampling before the demo model had its own)
// times a visit by such a link instead.
import { join, resolve } from 'node:path';
import { serveDist } from '../tests/e2e/static-server.mjs';
import { ENGINE, launch, openPage, phaseOf, settled } from '../tests/e2e/browser.mjs';

const dist = resolve(process.argv[2] ?? 'dist/');
const REPEATS = Number(process.argv[3] ?? 1);
const QUERY = process.argv[4] ?? '';

const server = await serveDist(join(dist, '/'));
const browser = await launch();
try {
  for (let r = 0; r < REPEATS; r++) {
    // A fresh context each time: nothing cached, as on a first visit.
    const { page, context, status, seconds } = await openPage(browser, server.url + QUERY);
    if (status !== 'ready') throw new Error(`the page did not get ready: ${status}`);
    const settings = {
      prompt: await page.getByTestId('prompt').inputValue(),
      steps: await page.getByTestId('steps').inputValue(),
      scheduler: await page.getByTestId('scheduler').inputValue(),
      guidance: await page.getByTestId('guidance').inputValue(),
    };
    const t0 = Date.now();
    await page.getByTestId('generate').click();
    await page.waitForFunction(() => document.querySelector('[data-testid=status]')?.dataset.phase !== 'ready');
    await settled(page);
    const first = (Date.now() - t0) / 1000;
    if (await phaseOf(page) !== 'done') throw new Error(`the run ended in "${await page.getByTestId('status').textContent()}"`);
    const result = {
      date: new Date().toISOString(),
      engine: ENGINE,
      query: QUERY,
      browser: browser.version?.() ?? '',
      ready_s: seconds,
      first_image_s: first,
      settings,
    };
    console.error(`${ENGINE}: ready in ${seconds.toFixed(1)} s, first image ${first.toFixed(1)} s after Generate `
      + `(${settings.steps} steps, ${settings.scheduler || "the model's own sampler"})`);
    console.log(JSON.stringify(result));
    await context.close();
  }
} finally {
  await browser.close();
  await server.close();
}
