#!/usr/bin/env node
// A full-size model draws an image in the page, and the image is the CLI's.
// The folder is SD v1.5's graph at RoentGen's size in diffusers' layout (as
// the full-size golden makes it: `weights-tools random --layout diffusers
// --dtype f16 --seed 0 --out DIR --tokenizer ...`, 2.1 GB).
//
// Chromium: the folder is chosen under "Model source" and converted by the
// page's worker into a stored model (f16); the page is reloaded and the model
// loaded from storage; then one image is generated. Firefox: ESR 153's
// WebDriver BiDi cannot choose a folder, and the tests' stand-in
// (tests/e2e/firefox.mjs, `chooseFolder`) makes every file in the page's
// memory, which is no way to hand it 2 GB, so the page streams the same
// model converted by `weights-tools convert` from the test server, caches
// it, is reloaded, loads it from its cache and generates.
// Both then compare the page's pixels with `roentgen generate`'s for the
// same settings: f32 arithmetic on Chromium (SwiftShader has no shader-f16;
// the page keeps f16 weights and computes in f32, as `--precision f32`
// does), f16 on Firefox (wgpu on lavapipe offers shader-f16, as the CLI's
// default does).
//
// Prints, as JSON: each phase's time (convert or stream, load from storage,
// generate), the page's own lines, the browser's resident memory at peak by
// process for each phase (ps every 250 ms), and the largest pixel
// difference. Not a test (the test command has no room for it on a 2-core
// machine: see docs/testing.md); exits non-zero when the images differ by more than
// TOLERANCE levels (default 2, the share-link test's).
//
//   cargo build --release -p roentgen-cli -p weights-tools
//   trunk build --release
//   node scripts/browser-full-size.mjs DIFFUSERS_DIR [chromium|firefox]
// Env: SIZE (image side, default 128), STEPS (default 2), TOLERANCE, WORK.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serveDist } from '../tests/e2e/static-server.mjs';
import { convertFolder, launch, launchPersistentChromium, openPage, resultImages, settled, waitForText } from '../tests/e2e/browser.mjs';
import { decodePng } from '../tests/e2e/png.mjs';
import { rssPeakSampler } from './browser-rss.mjs';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const folder = resolve(process.argv[2] ?? '');
const engine = process.argv[3] ?? 'chromium';
if (!process.argv[2] || !['chromium', 'firefox'].includes(engine)) {
  console.error('usage: node scripts/browser-full-size.mjs DIFFUSERS_DIR [chromium|firefox]');
  process.exit(2);
}
if (engine === 'firefox' && process.env.E2E_BROWSER !== 'firefox') {
  console.error('Firefox: run with E2E_BROWSER=firefox (tests/e2e/browser.mjs launches the engine it names)');
  process.exit(2);
}
const side = Number(process.env.SIZE ?? 128);
const steps = Number(process.env.STEPS ?? 2);
const tolerance = Number(process.env.TOLERANCE ?? 2);
const settings = {
  prompt: 'small left apical pneumothorax',
  negative: 'lateral view',
  seed: '7',
  steps: String(steps),
  guidance: '4',
  scheduler: 'ddim',
  size: `${side}x${side}`,
};
const dist = join(ROOT, 'dist/');
// WORK=DIR keeps the CLI's converted model and image there for the next run
// (the same folder and settings; delete DIR when they change).
const keep = Boolean(process.env.WORK);
const work = process.env.WORK ? resolve(process.env.WORK) : mkdtempSync(join(tmpdir(), 'roentgen-full-size-'));
mkdirSync(work, { recursive: true });
const seconds = (t0) => +((Date.now() - t0) / 1000).toFixed(1);

// The CLI's image, from the folder converted by weights-tools (f16 storage).
const converted = join(work, 'model');
let t0 = Date.now();
if (!existsSync(join(converted, 'manifest.json'))) {
  execFileSync(join(ROOT, 'target/release/weights-tools'), ['convert', '--from', folder, '--out', converted, '--dtype', 'f16'], { stdio: 'inherit' });
}
const cliConvertS = seconds(t0);
const precision = engine === 'firefox' ? 'f16' : 'f32';
const cliPng = join(work, `cli-${precision}.png`);
t0 = Date.now();
const reused = existsSync(cliPng);
if (!reused) execFileSync(join(ROOT, 'target/release/roentgen'), [
  'generate', '--model', converted, '--precision', precision,
  '--prompt', settings.prompt, '--negative', settings.negative, '--seed', settings.seed,
  '--steps', settings.steps, '--guidance', settings.guidance, '--scheduler', settings.scheduler,
  '--size', settings.size, '--out', cliPng,
], { stdio: 'inherit', env: { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? tmpdir() } });
const cli = { precision, convert_s: cliConvertS, generate_s: seconds(t0), image: decodePng(readFileSync(cliPng)) };

const served = join(dist, 'full-size-model');
rmSync(served, { force: true });
symlinkSync(converted, served);
const server = await serveDist(dist);
const rss = rssPeakSampler(engine);
let browser;
let context;
const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
const machine = {
  cpu: (cpuinfo.match(/^model name\s*:\s*(.*)$/m) ?? [])[1],
  cores: availableParallelism(),
  avx512: /\bavx512f\b/.test(cpuinfo),
};
const report = {
  date: new Date().toISOString(),
  machine,
  engine,
  folder,
  settings,
  cli: reused ? { precision, reused: work } : { precision, convert_s: cli.convert_s, generate_s: cli.generate_s },
};
try {
  if (engine === 'chromium') {
    context = await launchPersistentChromium(join(work, 'profile'));
  } else {
    browser = await launch();
  }
  // Firefox opens a link with the settings (not run): the page hands its
  // prompt to the load, which encodes it as soon as the text encoder is in.
  const link = new URLSearchParams({ model: 'full-size-model/', ...settings }).toString();
  const opened = engine === 'chromium'
    ? await openPage(null, `${server.url}?model=tiny-sd2%2F`, { context })
    : await openPage(browser, `${server.url}?${link}`);
  const page = opened.page;
  rss.take();
  if (engine === 'chromium') {
    t0 = Date.now();
    await convertFolder(page, folder, 'f16');
    await settled(page);
    report.convert = { seconds: seconds(t0), line: await page.getByTestId('progress').textContent(), ...rss.take() };
  } else {
    report.stream = { seconds: opened.seconds, line: await page.getByTestId('download').textContent(), ...rss.take() };
  }
  const status = await page.getByTestId('status').textContent();
  if (status.startsWith('error')) throw new Error(status);

  // Next visit: the model comes from this browser's storage.
  await page.reload();
  await settled(page);
  rss.take();
  t0 = Date.now();
  if (engine === 'chromium') {
    await waitForText(page, 'stored-models', /\S/);
    await page.getByTestId('stored-load').first().click();
    await waitForText(page, 'download', /stored in this browser/);
  }
  await settled(page);
  report.load = {
    seconds: engine === 'chromium' ? seconds(t0) : undefined,
    status: await page.getByTestId('status').textContent(),
    line: await page.getByTestId('download').textContent(),
    ...rss.take(),
  };

  for (const [id, v] of Object.entries(settings)) {
    if (id === 'scheduler') await page.getByTestId(id).selectOption(v);
    else await page.getByTestId(id).fill(v);
  }
  await page.getByTestId('count').fill('1');
  t0 = Date.now();
  await page.getByTestId('generate').click();
  await settled(page);
  const done = await page.getByTestId('status').textContent();
  report.generate = { seconds: seconds(t0), status: done, line: await page.getByTestId('progress').textContent(), ...rss.take() };
  if (done !== 'done') throw new Error(`generate: ${done}`);

  const [img] = await resultImages(page);
  let max = 0;
  let sum = 0;
  for (let i = 0; i < img.pixels.length; i++) {
    const d = Math.abs(img.pixels[i] - cli.image.pixels[i]);
    max = Math.max(max, d);
    sum += d;
  }
  report.image = {
    size: `${img.width}x${img.height}`,
    cli_size: `${cli.image.width}x${cli.image.height}`,
    max_pixel_difference: max,
    mean_pixel_difference: +(sum / img.pixels.length).toFixed(4),
    tolerance,
  };
  report.page_errors = opened.errors;
  console.log(JSON.stringify(report, null, 1));
  if (img.width !== cli.image.width || img.height !== cli.image.height || max > tolerance) {
    console.error(`the page's image differs from the CLI's (max ${max} levels, tolerance ${tolerance})`);
    process.exitCode = 1;
  }
} finally {
  rss.stop();
  await (browser ?? context)?.close();
  await server.close();
  rmSync(served, { force: true });
  if (!keep) rmSync(work, { recursive: true, force: true });
}
