// The page while it generates and the teaching views: step progress with a
// live latent preview and a strip of every step, cancel, presets, the
// compare view (same seed with and without a finding, side by side, also as a
// link), and per-image download and share links. The worker does the GPU
// work: the page's thread never asks for a WebGPU adapter (asserted), and its
// longest tasks while loading and generating are logged (not raced: speed is
// the benchmarks' business).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { serveDist } from './static-server.mjs';
import { PAGE_LOGIC, launch, runsOn, logLongTasks, openPage, resultImages, settled, tiny, waitForText, waitUntil } from './browser.mjs';
import { decodePng } from './png.mjs';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
let server;
let browser;

before(async () => {
  server = await serveDist(join(ROOT, 'dist/'));
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.close();
});

/** Opens `query` (on the tiny model) in a fresh context. */
const open = (query = '') => openPage(browser, server.url + tiny(query));

const images = resultImages;

/** Firefox reports no `longtask` entries, so the long-task check is Chromium's. */
const LONG_TASKS = runsOn('chromium', 'it checks main-thread long tasks, which Firefox does not report');

test('generating shows step progress, a live preview and the strip of steps; downloads and links carry the image', LONG_TASKS, async () => {
  const { page, context, errors } = await open();
  assert.equal(await page.getByTestId('status').textContent(), 'ready');
  await logLongTasks(page, 'the page loaded (wasm, worker start, self-check and model in the worker)');
  await page.getByTestId('prompt').fill('Small left pleural effusion.');
  await page.getByTestId('steps').fill('4');
  await page.getByTestId('scheduler').selectOption('ddim');
  await page.evaluate(() => { window.__longTasks = []; });
  await page.getByTestId('generate').click();
  // Progress is reported while the steps run, with the preview beside it.
  await waitForText(page, 'progress', /step \d of 4/);
  await settled(page);
  assert.equal(await page.getByTestId('status').textContent(), 'done');
  await logLongTasks(page, 'generating (4 steps)');
  // The page's thread made no GPU device: the self-check, the model and
  // every step ran in the worker.
  assert.equal(await page.evaluate(() => window.__gpuRequests), 0, 'WebGPU adapter requests on the page\'s thread');
  // The long-task log means something: a 150 ms busy task is seen.
  await page.evaluate(() => new Promise((done) => setTimeout(() => {
    const t = performance.now();
    while (performance.now() - t < 150);
    done();
  }, 0)));
  await waitUntil(page, () => window.__longTasks.some((d) => d >= 150));
  assert.match(await page.getByTestId('progress').textContent(), /^1 image in [\d.]+ s$/);
  const frames = await page.getByTestId('step-frame').evaluateAll((imgs) => imgs.map((i) => i.src));
  assert.equal(frames.length, 4, 'one frame per DDIM step');
  const frame = decodePng(Buffer.from(frames[3].split(',')[1], 'base64'));
  // The test model's VAE upsamples 2x: 8x8 latents under its 16x16 images.
  assert.deepEqual([frame.width, frame.height], [8, 8]);
  assert.notDeepEqual(frames[0], frames[3], 'the latents change from step to step');

  const [img] = await images(page);
  const href = await page.getByTestId('download-png').getAttribute('href');
  assert.equal(await page.getByTestId('download-png').getAttribute('download'), 'roentgen-seed1.png');
  assert.equal(href, await page.getByTestId('result').getAttribute('src'));
  const link = await page.getByTestId('share-link').getAttribute('href');
  assert.match(link, /prompt=Small\+left\+pleural\+effusion\.&.*seed=1.*scheduler=ddim.*&run=1$/);
  const other = await open(link);
  assert.equal(await other.page.getByTestId('status').textContent(), 'done');
  assert.deepEqual((await images(other.page))[0].pixels, img.pixels, 'the image link reproduces the image');
  assert.deepEqual([...errors, ...other.errors], []);
  await context.close();
  await other.context.close();
});

test('each image has a DICOM link: the PNG\'s pixels as a Secondary Capture marked synthetic, valid for dciodvfy', PAGE_LOGIC, async () => {
  const { page, context, errors } = await open();
  await page.getByTestId('prompt').fill('Small left apical pneumothorax.');
  await page.getByTestId('steps').fill('2');
  await page.getByTestId('generate').click();
  await settled(page);
  assert.equal(await page.getByTestId('status').textContent(), 'done');
  const link = page.getByTestId('download-dicom');
  assert.equal(await link.getAttribute('download'), 'roentgen-seed1.dcm');
  const href = await link.getAttribute('href');
  assert.match(href, /^blob:/);
  const b64 = await page.evaluate(async (url) => {
    const bytes = new Uint8Array(await (await fetch(url)).arrayBuffer());
    let s = '';
    for (const b of bytes) s += String.fromCharCode(b);
    return btoa(s);
  }, href);
  const dir = mkdtempSync(join(tmpdir(), 'roentgen-dicom-'));
  try {
    const file = join(dir, 'page.dcm');
    writeFileSync(file, Buffer.from(b64, 'base64'));
    const run = (tool, ...args) => {
      const r = spawnSync(tool, [...args, file], { encoding: 'utf8' });
      assert.ok(!r.error, `${tool}: ${r.error} (Debian's dicom3tools and dcmtk; scripts/setup.sh installs them)`);
      return r.stdout + r.stderr;
    };
    const verdict = run('dciodvfy');
    assert.match(verdict, /SCImage/);
    assert.doesNotMatch(verdict, /Error|Warning/, verdict);
    const dump = run('dcmdump', '+L'); // +L: long values whole
    for (const want of ['(0008,0064) CS [SYN]', '(0008,103e) LO [SYNTHETIC - NOT FOR DIAGNOSIS]', 'Small left apical pneumothorax.']) {
      assert.ok(dump.includes(want), `dcmdump lacks ${want}: ${dump}`);
    }
    // The PNG's size: the tiny model draws 16x16.
    assert.match(dump, /\(0028,0010\) US 16 /);
    assert.match(dump, /\(0028,0011\) US 16 /);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.deepEqual(errors, []);
  await context.close();
});

test('Cancel stops a run between steps and leaves the page ready', PAGE_LOGIC, async () => {
  const { page, context, errors } = await open();
  await page.getByTestId('steps').fill('60');
  await page.getByTestId('generate').click();
  // Cancel at once, while the first step is still running, whatever this
  // machine's speed: the run must stop after that step.
  await waitForText(page, 'status', /^generating$/);
  await page.getByTestId('cancel').click();
  await settled(page);
  assert.equal(await page.getByTestId('status').textContent(), 'ready');
  const progress = await page.getByTestId('progress').textContent();
  const [, step] = /^cancelled \(image 1 of 1 · step (\d+) of 6\d/.exec(progress) ?? [];
  assert.ok(Number(step) >= 1 && Number(step) < 60, progress);
  console.log(`# cancelled after step ${step}`);
  assert.equal(await page.getByTestId('result').count(), 0);
  // The page is ready for the next run.
  await page.getByTestId('steps').fill('2');
  await page.getByTestId('generate').click();
  await settled(page);
  assert.equal(await page.getByTestId('status').textContent(), 'done');
  assert.deepEqual(errors, []);
  await context.close();
});

test('compare: a preset, then the same seed with and without the finding side by side, and as a link', PAGE_LOGIC, async () => {
  const { page, context, errors } = await open();
  await page.getByTestId('preset').selectOption({ label: 'Pneumothorax, left apical, small' });
  assert.equal(await page.getByTestId('prompt').inputValue(), 'Small left apical pneumothorax.');
  assert.equal(await page.getByTestId('compare-prompt').inputValue(), 'No pneumothorax.');
  await page.getByTestId('steps').fill('3');
  await page.getByTestId('seed').fill('7');
  await page.getByTestId('compare').click();
  await settled(page);
  assert.equal(await page.getByTestId('status').textContent(), 'done');
  const captions = await page.getByTestId('caption').allTextContents();
  assert.deepEqual(captions, [
    'with: “Small left apical pneumothorax.”, seed 7',
    'without: “No pneumothorax.”, seed 7',
  ]);
  const [withIt, without] = await images(page);
  assert.equal(withIt.text.seed, '7');
  assert.equal(without.text.seed, '7');
  assert.equal(without.text.prompt, 'No pneumothorax.');
  assert.notDeepEqual(withIt.pixels, without.pixels, 'the prompt changes the image');

  const link = await page.getByTestId('share-link').first().getAttribute('href');
  assert.match(link, /compare=No\+pneumothorax\./);

  // The "with" image is exactly what Generate makes for the same settings.
  await page.getByTestId('generate').click();
  await settled(page);
  assert.deepEqual((await images(page))[0].pixels, withIt.pixels);

  // The compare link opens the pair again.
  const again = await open(link);
  assert.equal(await again.page.getByTestId('status').textContent(), 'done');
  assert.equal(await again.page.getByTestId('result').count(), 2);
  assert.deepEqual([...errors, ...again.errors], []);
  await context.close();
  await again.context.close();
});

test('a lost GPU device is reported and "Load model" recovers', async () => {
  const { page, context, errors } = await open();
  assert.equal(await page.getByTestId('status').textContent(), 'ready');
  await page.evaluate(() => window.roentgenLoseDevice());
  await waitForText(page, 'status', /^error: the GPU device was lost/);
  await page.getByTestId('load').click();
  await waitForText(page, 'status', /^(?!error)/);
  await settled(page);
  assert.equal(await page.getByTestId('status').textContent(), 'ready');
  await page.getByTestId('steps').fill('2');
  await page.getByTestId('generate').click();
  await settled(page);
  assert.equal(await page.getByTestId('status').textContent(), 'done');
  assert.deepEqual(errors, []);
  await context.close();
});

test('a device lost in the middle of a run loads the model again and carries on from the last finished step: the image is the uninterrupted run\'s', PAGE_LOGIC, async () => {
  const { page, context, errors } = await open();
  await page.getByTestId('prompt').fill('Small left pleural effusion.');
  await page.getByTestId('steps').fill('6');
  // DPM-Solver++ remembers the previous step's x0: resuming must carry it.
  await page.getByTestId('scheduler').selectOption('dpm++2m');
  await page.getByTestId('generate').click();
  await settled(page);
  const whole = (await images(page))[0].pixels;

  await page.getByTestId('generate').click();
  await waitForText(page, 'progress', /step 3 of 6/);
  await page.evaluate(() => window.roentgenLoseDevice());
  await waitForText(page, 'progress', /^the GPU device was lost: loading the model again to carry on from step [3-6] of image 1$/);
  const from = Number((await page.getByTestId('progress').textContent()).match(/step (\d)/)[1]);
  console.log(`# the device was lost after step ${from} of 6; the run carried on from there`);
  await settled(page);
  assert.equal(await page.getByTestId('status').textContent(), 'done');
  assert.deepEqual((await images(page))[0].pixels, whole, 'the resumed image equals the uninterrupted one');
  // Every step's preview is in the strip once: the earlier ones were kept.
  assert.equal(await page.getByTestId('step-frame').count(), 6);
  assert.deepEqual(errors, []);
  await context.close();
});

test('the prompt\'s words are chips; choosing one lays its attention map over the image and every step', PAGE_LOGIC, async () => {
  const { page } = await open();
  await page.getByTestId('prompt').fill('small left apical pneumothorax');
  await page.getByTestId('steps').fill('3');
  await page.getByTestId('scheduler').selectOption('ddim');
  await page.getByTestId('generate').click();
  await settled(page);
  assert.equal(await page.getByTestId('status').textContent(), 'done');
  const figure = page.getByTestId('result').locator('xpath=..');
  const chips = figure.getByTestId('word-chip');
  assert.deepEqual(await chips.allTextContents(), ['small', 'left', 'apical', 'pneumothorax']);
  const result = page.getByTestId('result');
  const plain = await result.getAttribute('src');
  await chips.nth(1).hover();
  const overlaid = await result.getAttribute('src');
  assert.notEqual(overlaid, plain, 'hovering "left" shows its map');
  const a = decodePng(Buffer.from(plain.split(',')[1], 'base64'));
  const b = decodePng(Buffer.from(overlaid.split(',')[1], 'base64'));
  assert.equal(b.width, a.width);
  let changed = 0;
  for (let i = 0; i < a.pixels.length; i++) changed += a.pixels[i] !== b.pixels[i];
  assert.ok(changed > 0, 'the overlay differs from the image');
  await page.mouse.move(0, 0);
  assert.equal(await result.getAttribute('src'), plain, 'leaving the chip shows the image again');
  // In the strip, a tapped word stays chosen and changes every step's frame.
  await page.getByTestId('steps-view').locator('summary').click();
  const frames = () => page.getByTestId('step-frame').evaluateAll((imgs) => imgs.map((i) => i.src));
  const before = await frames();
  assert.equal(before.length, 3);
  await page.getByTestId('steps-view').getByTestId('word-chip').nth(3).click();
  await page.mouse.move(0, 0);
  const after = await frames();
  assert.ok(after.every((src, k) => src !== before[k]), 'every step shows "pneumothorax"\'s map');
});
