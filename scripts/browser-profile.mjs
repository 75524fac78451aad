#!/usr/bin/env node
// Where one UNet step's time goes in the page, by kernel family: opens the
// page on a model (the demo model by default), presses "Profile one step"
// in the GPU panel, and prints the table and the profile's JSON. Headless
// Chromium (SwiftShader without a GPU) or, with E2E_BROWSER=firefox,
// Firefox ESR (wgpu on Vulkan). Serves dist/ (run `trunk build --release`
// first). Not a test: nothing is asserted; numbers are for benchmarks/.
//
//   node scripts/browser-profile.mjs [dist/] [?model=URL] > profile.json
import { join, resolve } from 'node:path';
import { serveDist } from '../tests/e2e/static-server.mjs';
import { ENGINE, launch, openPage } from '../tests/e2e/browser.mjs';

const dist = resolve(process.argv[2] ?? 'dist/');
const query = process.argv[3] ?? '';

const server = await serveDist(join(dist, '/'));
const browser = await launch();
try {
  const { page, context, status } = await openPage(browser, server.url + query);
  if (status !== 'ready') throw new Error(`the page did not get ready: ${status}`);
  await page.getByTestId('gpu-panel').locator('summary').click();
  // Once to compile and warm everything the step uses, then the profile.
  for (let round = 0; round < 2; round++) {
    await page.getByTestId('profile-step').click();
    await page.waitForFunction(() => /^(one step|profile:)/.test(
      document.querySelector('[data-testid=profile-status]')?.textContent ?? ''), null, { timeout: 1_200_000 });
  }
  const line = await page.getByTestId('profile-status').textContent();
  const rows = await page.getByTestId('profile-row').evaluateAll((trs) =>
    trs.map((tr) => [...tr.children].map((td) => td.textContent).join('  ')));
  const href = await page.getByTestId('profile-json').getAttribute('href');
  const profile = JSON.parse(decodeURIComponent(href.slice(href.indexOf(',') + 1)));
  console.error(`${ENGINE}: ${line}\nkernel family  dispatches  ms  share  GFLOP/s  GB/s\n${rows.join('\n')}`);
  console.log(JSON.stringify({ engine: ENGINE, query, date: new Date().toISOString(), profile }));
  await context.close();
} finally {
  await browser.close();
  await server.close();
}
