// The presenter view (issue 24): driven from the keyboard as a lecturer
// drives it, at a projector's two common sizes. The QR code is read back
// from a screenshot by a QR decoder (npm jsqr) and must be the exact share
// link of the image on screen; the layout is measured (image, QR code and
// prompt inside the screen, apart, large) and the screenshots are kept in
// target/screenshots/ to look at.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import jsQR from 'jsqr';
import { decodePng } from './png.mjs';
import { serveDist } from './static-server.mjs';
import { PAGE_LOGIC, launch, openPage, settled, tiny } from './browser.mjs';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SHOTS = join(ROOT, 'target/screenshots');
let browser;
let server;

before(async () => {
  browser = await launch();
  server = await serveDist(join(ROOT, 'dist/'));
});

after(async () => {
  await browser?.close();
  await server?.close();
});

/** The QR code on screen, decoded from a screenshot (saved as `name`). */
async function screenQr(page, name) {
  const png = Buffer.from(await page.screenshot());
  mkdirSync(SHOTS, { recursive: true });
  writeFileSync(join(SHOTS, name), png);
  const { width, height, channels, pixels } = decodePng(png);
  assert.equal(channels, 4);
  return jsQR(new Uint8ClampedArray(pixels.buffer, pixels.byteOffset, pixels.length), width, height)?.data;
}

/** Boxes of the presenter's parts, in CSS pixels, and the prompt's type size. */
const layout = (page) => page.evaluate(() => {
  const box = (el) => {
    const r = el.getBoundingClientRect();
    return { x: r.x, y: r.y, right: r.right, bottom: r.bottom, width: r.width, height: r.height };
  };
  const q = (id) => document.querySelector(`[data-testid=${id}]`);
  return {
    view: { width: innerWidth, height: innerHeight },
    images: [...document.querySelectorAll('[data-testid=presenter-image]')].map(box),
    qr: box(q('presenter-qr')),
    prompt: box(q('presenter-prompt')),
    promptPx: parseFloat(getComputedStyle(q('presenter-prompt')).fontSize),
    background: getComputedStyle(q('presenter')).backgroundColor,
  };
});

const inside = (b, v) => b.x >= 0 && b.y >= 0 && b.right <= v.width + 0.5 && b.bottom <= v.height + 0.5;
const apart = (a, b) => a.right <= b.x || b.right <= a.x || a.bottom <= b.y || b.bottom <= a.y;

/** Checks what a room sees at this size: everything on screen, apart, large. */
function checkLayout(l, pair) {
  const { view } = l;
  assert.equal(l.background, 'rgb(0, 0, 0)');
  assert.equal(l.images.length, pair ? 2 : 1);
  for (const b of [...l.images, l.qr, l.prompt]) assert.ok(inside(b, view), `${JSON.stringify(b)} inside ${JSON.stringify(view)}`);
  for (const img of l.images) {
    assert.ok(apart(img, l.qr), 'the QR code does not cover an image');
    assert.ok(apart(img, l.prompt), 'the prompt does not cover an image');
    assert.ok(Math.abs(img.width - img.height) < 1, `square, not stretched: ${JSON.stringify(img)}`);
  }
  const side = Math.min(...l.images.map((b) => b.width));
  // One image: most of the screen's height; a pair: each most of half the width left by the QR code.
  if (pair) assert.ok(side >= 0.3 * view.width, `each of the pair ${side}px wide at ${view.width}`);
  else assert.ok(side >= 0.6 * view.height, `the image ${side}px high at ${view.height}`);
  assert.ok(l.qr.width >= 0.25 * view.height, `QR code ${l.qr.width}px`);
  assert.ok(l.promptPx >= 0.04 * view.height, `prompt type ${l.promptPx}px at ${view.height}`);
  if (pair) assert.ok(Math.abs(l.images[0].y - l.images[1].y) < 1 && l.images[0].right <= l.images[1].x, 'side by side');
}

/** The share link of the newest image, as a phone would open it. */
const shareLink = (page) => page.evaluate(() => [...document.querySelectorAll('[data-testid=share-link]')].at(-1).href);

test('the presenter view: keys run presets, generation, compare and attention; the QR code is the share link at 1920x1080 and 1280x720', PAGE_LOGIC, async () => {
  // A headless browser's screen is fixed (Firefox's: 1366x768) and a
  // full-screen element takes it, whatever the viewport; the layout is
  // measured at the projector sizes by keeping the view in the window, as
  // where a browser refuses full screen.
  const onPage = (page) => page.addInitScript(() => {
    Element.prototype.requestFullscreen = function () {
      window.__fullscreenAsked = true;
      return Promise.resolve();
    };
  });
  const s = await openPage(browser, server.url + tiny('?steps=2'), { onPage });
  assert.equal(s.status, 'ready');
  const { page } = s;
  const press = (key) => page.keyboard.press(key);
  await page.setViewportSize({ width: 1920, height: 1080 });
  await page.getByTestId('presenter-open').click();
  await page.getByTestId('presenter').waitFor();
  assert.equal(await page.evaluate(() => window.__fullscreenAsked), true, 'the view asks for the whole screen');
  assert.match(await page.getByTestId('presenter-qr-none').textContent(), /No link yet/);

  // N: the first finding preset; G: its image.
  await press('n');
  const prompt = await page.getByTestId('prompt').inputValue();
  assert.ok(prompt.length > 0);
  assert.equal(await page.getByTestId('presenter-prompt').textContent(), prompt);
  await press('g');
  await settled(page);
  assert.equal(await page.getByTestId('status').textContent(), 'done');
  assert.match(await page.getByTestId('presenter-step').textContent(), /^1 image in/);
  checkLayout(await layout(page), false);
  const one = await shareLink(page);
  assert.equal(await page.getByTestId('presenter-link').textContent(), one);
  assert.equal(await screenQr(page, 'presenter-1920x1080.png'), one, 'the QR code reads back as the share link');

  // A: each word's attention map in turn, then none.
  const plain = await page.getByTestId('presenter-image').getAttribute('src');
  await press('a');
  assert.match(await page.getByTestId('presenter-word').textContent(), /^Attention: “.+”$/);
  assert.notEqual(await page.getByTestId('presenter-image').getAttribute('src'), plain);

  // N again: the next preset; C: compare on; G: the pair, same seed.
  await press('n');
  const second = await page.getByTestId('prompt').inputValue();
  assert.notEqual(second, prompt);
  await press('c');
  assert.match(await page.getByTestId('presenter-compare').textContent(), /^Compare: on/);
  await press('g');
  await settled(page);
  assert.equal(await page.getByTestId('status').textContent(), 'done');
  const pair = await shareLink(page);
  assert.match(pair, /[?&]compare=/);
  checkLayout(await layout(page), true);
  assert.equal(await screenQr(page, 'presenter-compare-1920x1080.png'), pair);

  await page.setViewportSize({ width: 1280, height: 720 });
  checkLayout(await layout(page), true);
  assert.equal(await screenQr(page, 'presenter-compare-1280x720.png'), pair);
  await press('c');
  await press('g');
  await settled(page);
  checkLayout(await layout(page), false);
  assert.equal(await screenQr(page, 'presenter-1280x720.png'), await shareLink(page));

  await press('Escape');
  await page.waitForFunction(() => document.querySelector('[data-testid=presenter]').hidden);
  assert.deepEqual(s.errors, []);
  await s.context.close();
});
