// The page's weight loader against hosts that misbehave or guard their
// files: a transfer cut halfway resumes with a Range request, a gated host on
// another origin is refused without credentials and loads with an
// Authorization header or cookies, verified shards land in OPFS under their
// sha256 and "Clear cache" removes them.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serveDist } from './static-server.mjs';
import { PAGE_LOGIC, TINY, launch, newContext, openPage, opfsNames, settled, tiny, waitForText, waitUntil } from './browser.mjs';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DIST = join(ROOT, 'dist/');
const MANIFEST = JSON.parse(readFileSync(join(DIST, TINY, 'manifest.json'), 'utf8'));
const SHARD = MANIFEST.shards[0];
let browser;

before(async () => {
  browser = await launch();
});

after(async () => {
  await browser?.close();
});

const open = (url, context) => openPage(browser, url, { context });

/** Names of the files in the page's OPFS shard folder ([] when absent). */
const opfsFiles = (page) => opfsNames(page, 'roentgen-weights-v1');

test('a shard transfer cut halfway resumes with a Range request', PAGE_LOGIC, async () => {
  const path = `/${TINY}${SHARD.file}`;
  const server = await serveDist(DIST, { flaky: [path] });
  try {
    const s = await open(server.url + tiny());
    assert.equal(s.status, 'ready', s.status);
    const gets = server.log.filter((r) => r.path === path && r.method === 'GET');
    assert.equal(gets.length, 2, JSON.stringify(gets));
    const from = Number(/^bytes=(\d+)-$/.exec(gets[1].range ?? '')?.[1]);
    console.log(`# shard of ${SHARD.bytes} bytes cut after the first half; resumed with "${gets[1].range}"`);
    assert.ok(from > 0 && from < SHARD.bytes, `resumed from ${gets[1].range}`);
    assert.match(await s.page.getByTestId('download').textContent(), /0 of 1 shards from this browser's cache/);
    assert.deepEqual(s.errors, []);
    await s.context.close();
  } finally {
    await server.close();
  }
});

test('gated weights on another origin: refused without credentials, loaded with a header or cookies', PAGE_LOGIC, async () => {
  const site = await serveDist(DIST);
  const gate = await serveDist(DIST, { secret: 's3cret', allowOrigin: site.origin });
  try {
    const link = `${site.url}?model=${encodeURIComponent(`${gate.url}${TINY}`)}`;
    const s = await open(link);
    assert.match(s.status, /^error: .*HTTP 401.*credentials/, s.status);

    await s.page.getByTestId('authorization').fill('Bearer s3cret');
    await s.page.getByTestId('load').click();
    await waitUntil(s.page, (old) => document.querySelector('[data-testid=status]').textContent !== old, s.status);
    await settled(s.page);
    assert.equal(await s.page.getByTestId('status').textContent(), 'ready');
    assert.ok(gate.log.some((r) => r.path.endsWith('.bin') && r.authorization === 'Bearer s3cret'));
    // The key is never kept in the page's storage.
    assert.equal(await s.page.evaluate(() => JSON.stringify(localStorage).includes('s3cret')), false);
    assert.deepEqual(s.errors, []);
    await s.context.close();

    const context = await newContext(browser);
    await context.addCookies([{ name: 'roentgen', value: 's3cret', url: gate.url }]);
    const c = await open(link, context);
    assert.match(c.status, /^error: .*HTTP 401/, 'cookies are not sent unless asked');
    await c.page.getByTestId('cookies').check();
    await c.page.getByTestId('load').click();
    await waitForText(c.page, 'status', /^(?!error)/);
    await settled(c.page);
    assert.equal(await c.page.getByTestId('status').textContent(), 'ready');
    assert.ok(gate.log.some((r) => r.path.endsWith('.bin') && (r.cookie ?? '').includes('roentgen=s3cret')));
    await context.close();
  } finally {
    await site.close();
    await gate.close();
  }
});

test('verified shards are kept in OPFS under their sha256; usage is shown; "Clear cache" removes them', async () => {
  const server = await serveDist(DIST);
  try {
    const s = await open(server.url + tiny());
    assert.equal(s.status, 'ready');
    assert.deepEqual(await opfsFiles(s.page), [SHARD.sha256]);
    assert.match(await s.page.getByTestId('download').textContent(), /\(OPFS\)/);
    const storage = await s.page.getByTestId('storage').textContent();
    console.log(`# ${storage}`);
    assert.match(storage, /^storage: \d+\.\d MB used by this site, of [\d.]+ GB/);
    await s.page.getByTestId('clear-cache').click();
    await waitForText(s.page, 'download', /cache cleared/);
    assert.deepEqual(await opfsFiles(s.page), []);
    await s.context.close();
  } finally {
    await server.close();
  }
});

test('a converted folder chosen from disk loads without the network and makes the same image', async () => {
  const server = await serveDist(DIST);
  const make = async (page) => {
    await page.getByTestId('steps').fill('2');
    await page.getByTestId('scheduler').selectOption('ddim');
    await page.getByTestId('generate').click();
    await settled(page);
    assert.equal(await page.getByTestId('status').textContent(), 'done');
    return page.getByTestId('result').getAttribute('src');
  };
  try {
    const s = await open(server.url + tiny());
    const fromUrl = await make(s.page);
    const before = server.requests.length;
    await s.page.getByTestId('folder').setInputFiles(join(ROOT, 'tests/goldens/tiny-sd2/model'));
    await waitForText(s.page, 'download', /read from disk/);
    await settled(s.page);
    assert.equal(await s.page.getByTestId('status').textContent(), 'ready');
    assert.equal(server.requests.length, before, 'nothing fetched');
    const fromDisk = await make(s.page);
    const png = (src) => Buffer.from(src.split(',')[1], 'base64');
    const { decodePng } = await import('./png.mjs');
    assert.deepEqual(decodePng(png(fromDisk)).pixels, decodePng(png(fromUrl)).pixels);
    assert.equal(decodePng(png(fromDisk)).text.model, 'local folder model');
    assert.deepEqual(s.errors, []);
    await s.context.close();
  } finally {
    await server.close();
  }
});

test('a converted folder\'s files dropped on the page load like a chosen folder', async () => {
  const server = await serveDist(DIST);
  try {
    const s = await open(server.url + tiny());
    // A real folder drag cannot be scripted; the dropped files can.
    await s.page.evaluate(async ([names, dir]) => {
      const dt = new DataTransfer();
      for (const name of names) {
        const bytes = await (await fetch(`${dir}${name}`)).arrayBuffer();
        dt.items.add(new File([bytes], name));
      }
      document.querySelector('section.panel:has([data-testid=generate])')
        .dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    }, [['manifest.json', MANIFEST.tokenizer, SHARD.file], TINY]);
    await waitForText(s.page, 'download', /read from disk/);
    await settled(s.page);
    assert.equal(await s.page.getByTestId('status').textContent(), 'ready');
    assert.deepEqual(s.errors, []);
    await s.context.close();
  } finally {
    await server.close();
  }
});
