// Launches Debian's Chromium through playwright-core with WebGPU on
// (SwiftShader when there is no GPU). Never downloads a browser.
import { chromium } from 'playwright-core';
import { decodePng } from './png.mjs';

export const CHROMIUM_ARGS = [
  '--enable-unsafe-webgpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
];

export function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: CHROMIUM_ARGS,
  });
}

/** Waits until the page's status is final: ready, done or error. */
export const settled = (page) =>
  page.waitForFunction(
    () => /^(ready|done|error)/.test(document.querySelector('[data-testid=status]')?.textContent ?? ''),
    null,
    { timeout: 240_000 },
  );

/**
 * Opens `url` in `context` (a fresh one by default) and waits for a final
 * status. Page errors are collected; with `longTasks`, every main-thread task
 * over 50 ms is recorded in `window.__longTasks` from the first script on.
 */
export async function openPage(browser, url, { context, longTasks = false } = {}) {
  context ??= await browser.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  if (longTasks) {
    await page.addInitScript(() => {
      window.__longTasks = [];
      new PerformanceObserver((list) => {
        for (const e of list.getEntries()) window.__longTasks.push(e.duration);
      }).observe({ type: 'longtask', buffered: true });
    });
  }
  const t0 = Date.now();
  await page.goto(url);
  await settled(page);
  const status = await page.getByTestId('status').textContent();
  return { page, context, errors, status, seconds: (Date.now() - t0) / 1000 };
}

/** The page's result images, decoded (pixels and PNG text chunks). */
export async function resultImages(page) {
  const srcs = await page.getByTestId('result').evaluateAll((imgs) => imgs.map((i) => i.src));
  return srcs.map((s) => decodePng(Buffer.from(s.split(',')[1], 'base64')));
}
