// Storage where the browser allows little: a conversion that would not fit
// is refused before it writes, saying how much it needs and what to free; a
// write the browser refuses half-way keeps nothing; shards the cache cannot
// keep cost the next visit a download, never this load, and leave no
// partial file behind; the storage line says whether the browser keeps the
// site's data (the page asks for persistent storage).
//
// How a small quota is made: the worker, where the page estimates and
// writes, is given a storage estimate and a synchronous file handle that
// behave as a full origin does (estimate() reports the quota; write() throws
// the QuotaExceededError DOMException the File System standard names).
// Chromium's own quota override over the DevTools protocol was tried first:
// it refuses the page thread's writes but neither shows in estimate() nor
// binds the worker's synchronous handles (a 13.8 MB conversion under a
// 6.5 MB override was stored whole), so it cannot stand for a full disk.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serveDist } from './static-server.mjs';
import { ENGINE, launch, runsOn, openPage, opfsNames, settled, tiny, waitForText, weightsTools } from './browser.mjs';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DIST = join(ROOT, 'dist/');
// The harness reaches into the page's worker through Playwright.
const REACHES_THE_WORKER = runsOn('chromium', 'the worker is reached through Playwright\'s Chromium workers');
let browser;
let server;
let work;
let folder;

before(async () => {
  if (ENGINE === 'firefox') return;
  work = mkdtempSync(join(tmpdir(), 'roentgen-e2e-quota-'));
  folder = join(work, 'tiny-sd2-diffusers');
  weightsTools(['export',
    '--from', join(ROOT, 'tests/goldens/tiny-sd2/model'), '--out', folder,
    '--dtype', 'f32']);
  server = await serveDist(DIST);
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** Opens the page on the tiny model; resolves with it and its worker. */
async function openWithWorker() {
  let worker;
  const started = new Promise((ok) => {
    worker = ok;
  });
  const s = await openPage(browser, server.url + tiny(), {
    onPage: (page) => page.on('worker', worker),
  });
  return { ...s, worker: await started };
}

/**
 * From now on the worker's origin holds `quota` bytes: estimate() says so
 * (what is stored counts as used), and synchronous writes past it throw.
 */
const fillTo = (worker, quota) =>
  worker.evaluate((quota) => {
    let used = 0;
    StorageManager.prototype.estimate = async () => ({ usage: used, quota });
    const write = FileSystemSyncAccessHandle.prototype.write;
    FileSystemSyncAccessHandle.prototype.write = function (buffer, options) {
      if (used + buffer.byteLength > quota) {
        throw new DOMException('The operation failed because it would cause the application to exceed its storage quota.', 'QuotaExceededError');
      }
      used += buffer.byteLength;
      return write.call(this, buffer, options);
    };
  }, quota);

test('a conversion that does not fit is refused before it writes, with what it needs and what to free', REACHES_THE_WORKER, async () => {
  const s = await openWithWorker();
  assert.equal(s.status, 'ready');
  await fillTo(s.worker, 2e6);
  await s.page.getByTestId('folder').setInputFiles(folder);
  await waitForText(s.page, 'status', /^error: converting/);
  const status = await s.page.getByTestId('status').textContent();
  console.log(`# ${status}`);
  assert.match(status, /not enough storage: the converted model needs 1\d\.\d MB, this browser lets this site store 2\.0 MB more \(free disk space, delete stored models, or pick q8, about half the size; nothing was kept\)$/);
  assert.deepEqual(await opfsNames(s.page, 'roentgen-models'), []);
  await s.context.close();
});

test('a conversion whose writes are refused half-way keeps nothing, and says how far it got', REACHES_THE_WORKER, async () => {
  const s = await openWithWorker();
  // The estimate allows 30 MB; the disk takes 6.5: the 5.1 MB shard goes
  // in, the 3.6 MB tokenizer after it is refused.
  await fillTo(s.worker, 6.5e6);
  await s.worker.evaluate(() => {
    StorageManager.prototype.estimate = async () => ({ usage: 0, quota: 30e6 });
  });
  await s.page.getByTestId('folder').setInputFiles(folder);
  await waitForText(s.page, 'status', /^error: converting/);
  const status = await s.page.getByTestId('status').textContent();
  console.log(`# ${status}`);
  assert.match(status, /not enough storage: this browser refused to store more for this site after 5\.\d MB of the converted model's 1\d\.\d MB \(free disk space, delete stored models, or pick q8, about half the size; nothing was kept\)$/);
  assert.deepEqual(await opfsNames(s.page, 'roentgen-models'), []);
  await s.context.close();
});

test('shards the cache cannot keep still load, are named, and leave no partial file', REACHES_THE_WORKER, async () => {
  const s = await openWithWorker();
  await s.page.getByTestId('clear-cache').click();
  await waitForText(s.page, 'download', /cache cleared/);
  // The tiny model's one shard is 5.1 MB: 1 MB cannot keep it.
  await fillTo(s.worker, 1e6);
  // "Load model" sits in the model's folded section once a model is loaded.
  await s.page.getByTestId('load').evaluate((b) => b.closest('details')?.setAttribute('open', ''));
  await s.page.getByTestId('load').click();
  // The load's summary replaces "cache cleared" (the status may be back at
  // "ready" before a wait for "loading" would see it).
  await waitForText(s.page, 'download', /^weights: /);
  await settled(s.page);
  assert.equal(await s.page.getByTestId('status').textContent(), 'ready');
  const line = await s.page.getByTestId('download').textContent();
  console.log(`# ${line}`);
  assert.match(line, /not kept for next time \(storage full\?\): shard-00000\.bin/);
  assert.deepEqual(await opfsNames(s.page, 'roentgen-weights-v1'), []);
  const storage = await s.page.getByTestId('storage').textContent();
  console.log(`# ${storage}`);
  assert.match(storage, /; (persistent: kept until you clear it|not persistent: the browser may clear it)/);
  // The model works: a full disk costs the cache, not the image.
  await s.page.getByTestId('steps').fill('2');
  await s.page.getByTestId('generate').click();
  await settled(s.page);
  assert.equal(await s.page.getByTestId('status').textContent(), 'done');
  assert.deepEqual(s.errors, []);
  await s.context.close();
});
