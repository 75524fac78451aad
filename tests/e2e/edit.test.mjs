// Editing a real radiograph in the page: a DICOM file (MONOCHROME1, window
// from the file) is read in the worker, shown as the model sees it, a mask
// is painted over it with the pointer, and the masked edit is the image
// `roentgen edit` makes from the same file, mask and settings; the PNG says
// it is an edited synthetic image and from what, and has no share link.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serveDist } from './static-server.mjs';
import { PAGE_ARITHMETIC, PAGE_LOGIC, launch, openPage, resultImages, settled, tiny, waitForText } from './browser.mjs';
import { decodePng } from './png.mjs';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DIST = join(ROOT, 'dist/');
const DICOM = join(ROOT, 'tests/fixtures/radiographs/cxr-mono1-window.dcm');
let browser;
let work;

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'roentgen-e2e-edit-'));
  browser = await launch();
});

after(async () => {
  await browser?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

test('a DICOM radiograph is edited inside a painted mask, as the CLI edits it', async () => {
  const server = await serveDist(DIST);
  try {
    const s = await openPage(browser, server.url + tiny());
    assert.equal(s.status, 'ready');
    const page = s.page;
    await page.getByTestId('prompt').fill('large right pleural effusion');
    await page.getByTestId('negative').fill('lateral view');
    await page.getByTestId('seed').fill('9');
    await page.getByTestId('steps').fill('4');
    await page.getByTestId('scheduler').selectOption('ddim');
    await page.getByTestId('edit-panel').locator('summary').click();
    await page.getByTestId('edit-file').setInputFiles(DICOM);
    await waitForText(page, 'edit-read-as', /MONOCHROME1 inverted/);
    const readAs = await page.getByTestId('edit-read-as').textContent();
    console.log(`# ${readAs}`);
    assert.match(readAs, /^cxr-mono1-window\.dcm: 128x128 DICOM CR, window 1050\.5\/4081 from the file, MONOCHROME1 inverted$/);

    // Paint a stroke over the lower left quarter of the shown image.
    await page.getByTestId('edit-mask').scrollIntoViewIfNeeded();
    const box = await page.getByTestId('edit-mask').boundingBox();
    await page.mouse.move(box.x + box.width * 0.15, box.y + box.height * 0.7);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.35, box.y + box.height * 0.85, { steps: 6 });
    await page.mouse.up();
    const mask = await page.getByTestId('edit-mask').evaluate((c) => {
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      return { w: c.width, h: c.height, on: Array.from({ length: c.width * c.height }, (_, i) => d[4 * i + 3] > 0) };
    });
    const painted = mask.on.filter(Boolean).length;
    assert.ok(painted > 4 && painted < mask.on.length / 2, `${painted} pixels painted`);

    await page.getByTestId('edit-strength').fill('0.75');
    await page.getByTestId('edit').click();
    await settled(page);
    assert.equal(await page.getByTestId('status').textContent(), 'done');
    const [img] = await resultImages(page);
    assert.equal(img.text.edited_from, 'cxr-mono1-window.dcm');
    assert.equal(img.text.mask, 'painted in the page');
    assert.equal(img.text.strength, '0.75');
    assert.match(img.text.edited_read_as, /MONOCHROME1 inverted/);
    assert.match(img.text.Comment, /^edited synthetic image, made from cxr-mono1-window\.dcm/);
    assert.equal(await page.getByTestId('share-link').count(), 0, 'an edit has no share link');

    // The same mask for the CLI, at the file's 128x128 (8x nearest).
    const maskPng = await page.evaluate(async ({ w, h, on }) => {
      const c = new OffscreenCanvas(128, 128);
      const ctx = c.getContext('2d');
      ctx.fillStyle = '#000';
      ctx.fillRect(0, 0, 128, 128);
      ctx.fillStyle = '#fff';
      const k = 128 / w;
      on.forEach((v, i) => v && ctx.fillRect((i % w) * k, Math.floor(i / w) * k, k, k));
      const b = new Uint8Array(await (await c.convertToBlob({ type: 'image/png' })).arrayBuffer());
      return Array.from(b);
    }, mask);
    const maskFile = join(work, 'mask.png');
    writeFileSync(maskFile, Buffer.from(maskPng));
    const out = join(work, 'cli.png');
    execFileSync(join(ROOT, 'target/debug/roentgen'), [
      'edit', '--model', join(ROOT, 'tests/goldens/tiny-sd2/model'), '--image', DICOM,
      '--mask', maskFile, '--strength', '0.75', '--prompt', 'large right pleural effusion',
      '--negative', 'lateral view', '--seed', '9', '--steps', '4', '--guidance', '4',
      '--scheduler', 'ddim', '--out', out,
    ], { env: { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? tmpdir() }, stdio: 'pipe' });
    const cli = decodePng(readFileSync(out));
    let max = 0;
    for (let i = 0; i < cli.pixels.length; i++) max = Math.max(max, Math.abs(cli.pixels[i] - img.pixels[i]));
    console.log(`# page (${PAGE_ARITHMETIC}) vs CLI (lavapipe, f16) masked edit: max pixel difference ${max}`);
    assert.ok(max <= 2, `pixels differ by up to ${max} levels (tolerance 2)`);
    for (const k of ['prompt', 'seed', 'steps', 'strength', 'edited_from', 'edited_read_as']) {
      assert.equal(img.text[k], cli.text[k], k);
    }
  } finally {
    await server.close();
  }
});

test('a file that is not an image is refused by name', PAGE_LOGIC, async () => {
  const server = await serveDist(DIST);
  try {
    const s = await openPage(browser, server.url + tiny());
    const bad = join(work, 'notes.txt');
    writeFileSync(bad, 'not an image');
    await s.page.getByTestId('edit-panel').locator('summary').click();
    await s.page.getByTestId('edit-file').setInputFiles(bad);
    await waitForText(s.page, 'status', /^error/);
    assert.equal(await s.page.getByTestId('status').textContent(), 'error: notes.txt: not a PNG, JPEG or DICOM file');
  } finally {
    await server.close();
  }
});

test('15-bit CR and JPEG 2000 DICOM files open in the page as the CLI reads them; a syntax it cannot read is refused by name', PAGE_LOGIC, async () => {
  const server = await serveDist(DIST);
  try {
    const s = await openPage(browser, server.url + tiny());
    await s.page.getByTestId('edit-panel').locator('summary').click();
    for (const [file, read] of [
      ['cxr-cr15-window.dcm', /^cxr-cr15-window\.dcm: 128x128 DICOM CR, window 13750\.5\/25501 from the file, MONOCHROME1 inverted$/],
      ['cxr-cr15-voi-lut.dcm', /^cxr-cr15-voi-lut\.dcm: 128x128 DICOM CR, VOI LUT from the file, MONOCHROME1 inverted$/],
      ['cxr-j2k-lossless.dcm', /^cxr-j2k-lossless\.dcm: 128x128 DICOM [A-Z]+, window 1050\.5\/4081 from the file$/],
      ['cxr-j2k-lossy.dcm', /^cxr-j2k-lossy\.dcm: 128x128 DICOM [A-Z]+, window 1050\.5\/4081 from the file$/],
    ]) {
      await s.page.getByTestId('edit-file').setInputFiles(join(ROOT, 'tests/fixtures/radiographs', file));
      await waitForText(s.page, 'edit-read-as', new RegExp(`^${file.replace(/\./g, '\\.')}:`));
      const readAs = await s.page.getByTestId('edit-read-as').textContent();
      console.log(`# ${readAs}`);
      assert.match(readAs, read);
    }
    // The JPEG 2000 file relabelled JPEG-LS (a UID of the same length): no
    // decoder here reads JPEG-LS, and the refusal says which syntax it is.
    const bytes = readFileSync(join(ROOT, 'tests/fixtures/radiographs/cxr-j2k-lossless.dcm'));
    const relabelled = join(work, 'cxr-jpeg-ls.dcm');
    writeFileSync(relabelled, Buffer.from(bytes.toString('latin1').replaceAll('1.2.840.10008.1.2.4.90', '1.2.840.10008.1.2.4.80'), 'latin1'));
    await s.page.getByTestId('edit-file').setInputFiles(relabelled);
    await waitForText(s.page, 'status', /^error/);
    const said = await s.page.getByTestId('status').textContent();
    console.log(`# ${said}`);
    assert.match(said, /^error: cxr-jpeg-ls\.dcm: its pixel data \(JPEG-LS .*\(1\.2\.840\.10008\.1\.2\.4\.80\)\) cannot be decoded here: .*RoentGen reads uncompressed, RLE, JPEG \(baseline, extended, lossless\) and JPEG 2000$/);
    assert.deepEqual(s.errors, []);
  } finally {
    await server.close();
  }
});
