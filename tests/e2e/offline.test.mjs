// Offline (issue 24): a visitor who loaded the page and a model once can
// reload and generate with the network gone. The page's own files come from
// its service worker (web/sw.js, listed per build by
// scripts/service-worker.sh), the model's manifest and tokenizer from the
// worker's copies, its shards from the page's own store. "Gone" is real:
// the server that served the page is stopped, its connections cut.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serveDist } from './static-server.mjs';
import { launch, newContext, openPage, resultImages, runsOn, settled, tiny, waitUntil } from './browser.mjs';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
let browser;

before(async () => {
  browser = await launch();
});

after(async () => {
  await browser?.close();
});

/** The build of the service worker that controls `page`. */
const buildOf = (page) => page.evaluate(() => new Promise((done) => {
  navigator.serviceWorker.addEventListener('message', (e) => done(e.data.build), { once: true });
  navigator.serviceWorker.controller.postMessage('build');
}));

const ONE_ENGINE = runsOn('chromium', 'service workers and storage are the page\'s logic; Playwright\'s Chromium reloads a page whose server is gone');

test('loaded once, the page reloads and generates the same image with its server gone', ONE_ENGINE, async () => {
  const server = await serveDist(join(ROOT, 'dist/'));
  const context = await newContext(browser);
  try {
    const { page, errors } = await openPage(browser, server.url + tiny('?prompt=Small+left+pleural+effusion.&steps=2&seed=5&run=1'), { context });
    assert.equal(await page.getByTestId('status').textContent(), 'done');
    const [online] = await resultImages(page);
    // The service worker has this build's files and controls the page.
    await waitUntil(page, () => navigator.serviceWorker.controller !== null);
    const build = await buildOf(page);
    assert.match(build, /^[0-9a-f]{16}$/);
    const manifest = await (await fetch(server.url + 'manifest.webmanifest')).json();
    assert.equal(manifest.short_name, 'RoentGen');
    assert.deepEqual(manifest.icons.map((i) => i.sizes), ['192x192', '512x512']);

    const asked = server.requests.length;
    await server.close();
    await page.reload();
    await settled(page);
    assert.equal(await page.getByTestId('status').textContent(), 'done', 'the link ran again offline');
    const [offline] = await resultImages(page);
    assert.deepEqual(offline.pixels, online.pixels, 'the same image, made offline');
    assert.equal(server.requests.length, asked, 'nothing reached the stopped server');
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
    await server.close();
  }
});

test('a new build waits until the visitor asks, is never mixed with the old one, then replaces it whole', ONE_ENGINE, async () => {
  // A copy of dist/ that the test turns into "the next build": a changed
  // page whose service worker names another build, as a deploy would.
  const dir = mkdtempSync(join(tmpdir(), 'roentgen-build-'));
  cpSync(join(ROOT, 'dist/'), dir, { recursive: true });
  const server = await serveDist(`${dir}/`);
  const context = await newContext(browser);
  const marker = (page) => page.evaluate(() => document.querySelector('meta[name=roentgen-next-build]')?.content ?? null);
  try {
    const { page, errors } = await openPage(browser, server.url + tiny(), { context });
    await waitUntil(page, () => navigator.serviceWorker.controller !== null);
    const build = await buildOf(page);
    const next = 'f'.repeat(16);
    const index = readFileSync(join(dir, 'index.html'), 'utf8');
    writeFileSync(join(dir, 'index.html'), index.replace('<head>', '<head><meta name="roentgen-next-build" content="yes">'));
    writeFileSync(join(dir, 'sw.js'), readFileSync(join(dir, 'sw.js'), 'utf8').replace(build, next));
    await page.evaluate(async () => (await navigator.serviceWorker.getRegistration()).update());
    await page.getByTestId('new-build').waitFor();

    // Not asked: a reload is the old build, whole, and offers the new one again.
    await page.reload();
    await settled(page);
    assert.equal(await marker(page), null, 'the old page, from the old cache');
    assert.equal(await buildOf(page), build);
    assert.equal(await page.getByTestId('status').textContent(), 'ready');

    // Asked: the page reloads once into the new build; the old cache is gone.
    const loaded = page.waitForEvent('load');
    await page.locator('[data-testid=new-build] button').click();
    await loaded;
    await settled(page);
    assert.equal(await marker(page), 'yes');
    assert.equal(await buildOf(page), next);
    assert.equal(await page.getByTestId('status').textContent(), 'ready');
    const caches = await page.evaluate(async () => (await self.caches.keys()).filter((k) => k.startsWith('roentgen-page-')));
    assert.deepEqual(caches, [`roentgen-page-${next}`]);
    assert.equal(await page.locator('[data-testid=new-build]').count(), 0);
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
