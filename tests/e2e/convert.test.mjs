// RoentGen's own folder in the page: a diffusers folder (tiny-sd2 written
// back in diffusers layout by `weights-tools export`, with the old VAE
// attention names) chosen from disk is converted in the worker by the
// converter weights-tools uses, stored in OPFS as a named model, loaded,
// and makes the same image as the model it came from; it is listed on the
// next visit, loads from there without converting, and can be deleted. A
// folder the converter refuses is refused with the converter's message.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serveDist } from './static-server.mjs';
import { PAGE_LOGIC, launch, newContext, openPage, opfsNames, resultImages, settled, tiny, waitForText, weightsTools } from './browser.mjs';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DIST = join(ROOT, 'dist/');
let browser;
let work;
let folder;

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'roentgen-e2e-convert-'));
  folder = join(work, 'tiny-sd2-diffusers');
  weightsTools(['export',
    '--from', join(ROOT, 'tests/goldens/tiny-sd2/model'), '--out', folder,
    '--dtype', 'f32', '--old-vae-attention']);
  browser = await launch();
});

after(async () => {
  await browser?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** The names of the models stored in the page's OPFS. */
const storedDirs = (page) => opfsNames(page, 'roentgen-models');

async function makeImage(page) {
  await page.getByTestId('steps').fill('2');
  await page.getByTestId('scheduler').selectOption('ddim');
  await page.getByTestId('seed').fill('5');
  await page.getByTestId('generate').click();
  await settled(page);
  assert.equal(await page.getByTestId('status').textContent(), 'done');
  return (await resultImages(page))[0];
}

test('a diffusers folder is converted in the page, stored, listed, reloaded and deleted', async () => {
  const server = await serveDist(DIST);
  const context = await newContext(browser);
  try {
    const s = await openPage(browser, server.url + tiny(), { context });
    assert.equal(s.status, 'ready');
    const fromUrl = await makeImage(s.page);
    assert.equal(await s.page.getByTestId('age').count(), 0, 'no patient fields for a model without them');

    // Said to be trained with demographic prompts (as RoentGen-v2 is): the
    // manifest records it and the page shows the patient's fields.
    await s.page.locator('details.source > summary').click();
    await s.page.getByTestId('convert-demographics').check();
    const t0 = Date.now();
    await s.page.getByTestId('folder').setInputFiles(folder);
    await waitForText(s.page, 'status', /^converting/);
    await waitForText(s.page, 'progress', /^converted "tiny-sd2-diffusers" in/);
    console.log(`# ${await s.page.getByTestId('progress').textContent()}`);
    await settled(s.page);
    assert.equal(await s.page.getByTestId('status').textContent(), 'ready');
    console.log(`# converted and loaded in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    assert.match(await s.page.getByTestId('download').textContent(), /stored in this browser/);
    assert.deepEqual(await storedDirs(s.page), ['tiny-sd2-diffusers']);
    assert.match(await s.page.getByTestId('stored-models').textContent(), /tiny-sd2-diffusers · f16 · 5 MB/);
    const manifest = await s.page.evaluate(async () => {
      const root = await navigator.storage.getDirectory();
      const dir = await (await root.getDirectoryHandle('roentgen-models')).getDirectoryHandle('tiny-sd2-diffusers');
      return JSON.parse(await (await (await dir.getFileHandle('manifest.json')).getFile()).text());
    });
    assert.equal(manifest.demographic_prompts, true);
    assert.equal(await s.page.getByTestId('age').count(), 1, 'the patient fields are shown');
    // The device check builds the converted model's pipeline without running it.
    await s.page.getByTestId('stored-check').click();
    await waitForText(s.page, 'check-line', /^this device: (fits|the)/);
    const check = await s.page.getByTestId('check-line').textContent();
    console.log(`# ${check}`);
    assert.match(check, /^this device: fits this adapter's limits; it needs [\d.]+ [MG]B of GPU memory at 16x16, from the manifest alone: nothing downloaded \(\d+ dispatches validated, none run\)/);
    const converted = await makeImage(s.page);
    assert.deepEqual(converted.pixels, fromUrl.pixels, 'the converted folder is the same model');
    assert.equal(converted.text.model, 'stored model tiny-sd2-diffusers');

    // Converting the same name again is refused; nothing is lost.
    await s.page.getByTestId('folder').setInputFiles(folder);
    await waitForText(s.page, 'status', /^error: converting "tiny-sd2-diffusers": a model named/);
    assert.deepEqual(await storedDirs(s.page), ['tiny-sd2-diffusers']);

    // Next visit: listed, loads without converting, then deleted.
    const again = await openPage(browser, server.url + tiny(), { context });
    await waitForText(again.page, 'stored-models', /tiny-sd2-diffusers/);
    await again.page.getByTestId('stored-load').click();
    await waitForText(again.page, 'download', /stored in this browser/);
    await settled(again.page);
    assert.equal(await again.page.getByTestId('status').textContent(), 'ready');
    assert.deepEqual((await makeImage(again.page)).pixels, fromUrl.pixels);
    await again.page.getByTestId('stored-delete').click();
    await waitForText(again.page, 'download', /deleted stored model "tiny-sd2-diffusers"/);
    assert.deepEqual(await storedDirs(again.page), []);
    assert.equal(await again.page.getByTestId('stored-model').count(), 0);
    assert.deepEqual([...s.errors, ...again.errors], []);
  } finally {
    await context.close();
    await server.close();
  }
});

test('a conversion cancelled as it starts keeps nothing', PAGE_LOGIC, async () => {
  const server = await serveDist(DIST);
  try {
    const s = await openPage(browser, server.url + tiny());
    // Cancel in the same task that starts the conversion (no race with how
    // fast this machine converts): the worker gets Convert, then Cancel.
    await s.page.evaluate(() => {
      const status = document.querySelector('[data-testid=status]');
      const obs = new MutationObserver(() => {
        if (status.textContent === 'converting') {
          obs.disconnect();
          document.querySelector('[data-testid=cancel]').click();
        }
      });
      obs.observe(status, { childList: true, characterData: true, subtree: true });
    });
    await s.page.getByTestId('folder').setInputFiles(folder);
    await waitForText(s.page, 'status', /^cancelled$/);
    assert.equal(await s.page.getByTestId('progress').textContent(), 'conversion cancelled: nothing was kept');
    assert.deepEqual(await storedDirs(s.page), []);
    assert.equal(await s.page.getByTestId('stored-model').count(), 0);
    await s.context.close();
  } finally {
    await server.close();
  }
});

test('a folder the converter refuses is refused with its message, and nothing is stored', PAGE_LOGIC, async () => {
  const server = await serveDist(DIST);
  const broken = join(work, 'broken');
  cpSync(folder, broken, { recursive: true });
  rmSync(join(broken, 'unet/config.json'));
  try {
    const s = await openPage(browser, server.url + tiny());
    await s.page.getByTestId('folder').setInputFiles(broken);
    await waitForText(s.page, 'status', /^error: converting "broken": broken\/unet\/config.json is missing: a diffusers folder holds/);
    assert.deepEqual(await storedDirs(s.page), []);
    await s.context.close();
  } finally {
    await server.close();
  }
});
