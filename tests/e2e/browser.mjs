// Launches the browser the tests run on, with WebGPU on, and the helpers
// every browser test shares. E2E_BROWSER picks the engine: Debian's Chromium
// through playwright-core (the default; SwiftShader when there is no GPU) or
// Debian's Firefox ESR over WebDriver BiDi (firefox.mjs; wgpu on Vulkan,
// lavapipe without a GPU). Never downloads a browser.
//
// No test here depends on the machine's speed: a test waits for the state it
// needs (a status, a progress line, an event) and fails only if that state
// never comes within WAIT_MS, which is far beyond what any step takes on the
// slowest machine we know (SwiftShader on 2 shared cores: a whole image of
// the test model in under a minute). Speed is reported in the log and
// measured by benchmarks, never asserted here.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { decodePng } from './png.mjs';
import { launchFirefox } from './firefox.mjs';

/** The engine these tests drive: 'chromium' or 'firefox'. */
export const ENGINE = process.env.E2E_BROWSER ?? 'chromium';
if (!['chromium', 'firefox'].includes(ENGINE)) throw new Error(`E2E_BROWSER=${ENGINE}: chromium or firefox`);

/**
 * `test`'s options for a test that runs on one engine only, saying why on
 * the other. README's test command runs every file on both engines; what is
 * the same code on both (the page's own logic: links, loaders, cancel,
 * compare, attention maps, resume) runs once, on Firefox, whose wgpu on
 * lavapipe runs these tests about three times faster than Chromium's
 * SwiftShader. What differs by engine (WebGPU adapter and kernels, f16,
 * storage, drawing an image equal to the CLI's, editing, conversion) runs on
 * both, or where only one engine can drive it. Choosing a folder works on
 * both (firefox.mjs says how, where WebDriver BiDi cannot set one).
 */
export function runsOn(engine, why) {
  return { skip: ENGINE !== engine && `runs on ${engine}: ${why}` };
}

/** For a test of the page's own logic, which is the same on both engines. */
export const PAGE_LOGIC = runsOn('firefox', 'page logic, the same on both engines; Firefox runs it faster');

/**
 * How the page computes on this engine without a GPU, for the log: SwiftShader
 * has no shader-f16, so the page keeps f16 in storage and computes in f32;
 * Firefox's wgpu on lavapipe offers shader-f16, so the page computes in f16
 * as the CLI does.
 */
export const PAGE_ARITHMETIC = ENGINE === 'firefox'
  ? 'Firefox, wgpu on Vulkan, f16 arithmetic'
  : 'Chromium, SwiftShader, packed f16';

export const CHROMIUM_ARGS = [
  '--enable-unsafe-webgpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
];

/**
 * How long any one wait may take before the test fails: 20 minutes by
 * default (E2E_WAIT_S overrides), at least ten times the slowest wait seen
 * on a fresh 2-core machine.
 */
export const WAIT_MS = Number(process.env.E2E_WAIT_S ?? 1200) * 1000;

export function launch() {
  if (ENGINE === 'firefox') return launchFirefox();
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: CHROMIUM_ARGS,
  });
}

/**
 * Chromium with a persistent profile in `dir`, as a visitor's browser has
 * (the benchmarks' default: off the record, Chromium keeps OPFS in memory,
 * which would count a stored model as resident memory); every wait and
 * action uses WAIT_MS.
 */
export async function launchPersistentChromium(dir) {
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: CHROMIUM_ARGS,
  });
  context.setDefaultTimeout(WAIT_MS);
  return context;
}

/**
 * Chooses diffusers folder `folder` under "Model source" for conversion to
 * `dtype` and waits until it is converted; throws the status if the page
 * stopped with an error instead. (On Firefox the driver makes the folder's
 * files in the page: firefox.mjs, `chooseFolder`.)
 */
export async function convertFolder(page, folder, dtype) {
  await page.locator('details.source > summary').click();
  await page.getByTestId('convert-dtype').selectOption(dtype);
  await page.getByTestId('folder').setInputFiles(folder);
  await waitUntil(page, () =>
    /^converted /.test(document.querySelector('[data-testid=progress]')?.textContent ?? '') ||
    document.querySelector('[data-testid=status]')?.dataset.phase === 'failed');
  if ((await phaseOf(page)) === 'failed') throw new Error(await page.getByTestId('status').textContent());
}

/** A fresh browser context whose every wait and action uses WAIT_MS. */
export async function newContext(browser) {
  const context = await browser.newContext();
  context.setDefaultTimeout(WAIT_MS);
  return context;
}

/** Waits until `predicate(arg)` is true in the page. */
export const waitUntil = (page, predicate, arg) =>
  page.waitForFunction(predicate, arg, { timeout: WAIT_MS });

/** Waits until the text of `[data-testid=id]` matches `re`. */
export const waitForText = (page, id, re) =>
  waitUntil(
    page,
    ([id, source, flags]) => new RegExp(source, flags).test(document.querySelector(`[data-testid=${id}]`)?.textContent ?? ''),
    [id, re.source, re.flags],
  );

/** The worker's phase as the page mirrors it (`data-phase` of the status line). */
export const phaseOf = (page) => page.getByTestId('status').getAttribute('data-phase');

/** Waits until the page's phase is final: ready, done or failed. */
export const settled = (page) =>
  waitUntil(page, () => ['ready', 'done', 'failed'].includes(document.querySelector('[data-testid=status]')?.dataset.phase));

/**
 * Opens `url` in `context` (a fresh one by default) and waits for a final
 * status. Page errors are collected. From the first script on, the page's
 * thread records every task over 50 ms in `window.__longTasks` (reported in
 * the log, not raced) and counts its own WebGPU adapter and device requests
 * in `window.__gpuRequests`: the worker owns the GPU, so the page's thread
 * must never make one. `onPage` sees the page before it opens (to listen
 * for its worker).
 */
export async function openPage(browser, url, { context, onPage } = {}) {
  context ??= await newContext(browser);
  const page = await context.newPage();
  await onPage?.(page);
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.addInitScript(() => {
    window.__longTasks = [];
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) window.__longTasks.push(e.duration);
    }).observe({ type: 'longtask', buffered: true });
    window.__gpuRequests = 0;
    if (window.GPU) {
      const requestAdapter = GPU.prototype.requestAdapter;
      GPU.prototype.requestAdapter = function (...args) {
        window.__gpuRequests += 1;
        return requestAdapter.apply(this, args);
      };
    }
  });
  const t0 = Date.now();
  await page.goto(url);
  await settled(page);
  const status = await page.getByTestId('status').textContent();
  return { page, context, errors, status, seconds: (Date.now() - t0) / 1000 };
}

/** `what` took `ms` of main-thread time in its longest task: a log line. */
export async function logLongTasks(page, what) {
  const tasks = await page.evaluate(() => window.__longTasks);
  console.log(`# main-thread tasks over 50 ms while ${what}: ${tasks.length}, longest ${Math.max(0, ...tasks).toFixed(0)} ms`);
}

/**
 * The tiny random test model, served beside the page at this path: the tests
 * of the page's machinery (links, cache, cancel, loaders) run on it because it
 * is fast on SwiftShader. The page's default is the demo model, which
 * demo.test.mjs tests on its own.
 */
export const TINY = 'tiny-sd2/';

/** `query` ('' or '?a=b&…') naming the tiny model unless it names one. */
export function tiny(query = '') {
  if (/[?&]model=/.test(query)) return query;
  return `${query || '?'}${query ? '&' : ''}model=${encodeURIComponent(TINY)}`;
}

/** The page's result images, decoded (pixels and PNG text chunks). */
export async function resultImages(page) {
  const srcs = await page.getByTestId('result').evaluateAll((imgs) => imgs.map((i) => i.src));
  return srcs.map((s) => decodePng(Buffer.from(s.split(',')[1], 'base64')));
}

/** The names in OPFS folder `dir` of the page's origin ([] when absent). */
export const opfsNames = (page, dir) =>
  page.evaluate(async (dir) => {
    const root = await navigator.storage.getDirectory();
    try {
      const handle = await root.getDirectoryHandle(dir);
      const names = [];
      for await (const name of handle.keys()) names.push(name);
      return names;
    } catch {
      return [];
    }
  }, dir);

/**
 * Runs `weights-tools ARGS` from the test build scripts/test.sh has made
 * (`cargo run -p weights-tools` would build it again for that package's
 * features alone: two minutes in a fresh clone), or through cargo when
 * that build is missing.
 */
export function weightsTools(args) {
  const root = fileURLToPath(new URL('../../', import.meta.url));
  const bin = `${root}target/debug/weights-tools`;
  if (existsSync(bin)) execFileSync(bin, args, { cwd: root, stdio: 'inherit' });
  else execFileSync('cargo', ['run', '-q', '-p', 'weights-tools', '--', ...args], { cwd: root, stdio: 'inherit' });
}
