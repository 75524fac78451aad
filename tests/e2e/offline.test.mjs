// Offline (issue 24): a visitor who loaded the page and a model once can
// reload and generate with the network gone. The page's own files come from
// its service worker (web/sw.js, listed per build by
// scripts/service-worker.sh), the model's manifest and tokenizer from the
// worker's copies, its shards from the page's own store. "Gone" is real:
// the server that served the page is stopped, its connections cut.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
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
    const build = await page.evaluate(() => new Promise((done) => {
      navigator.serviceWorker.addEventListener('message', (e) => done(e.data.build), { once: true });
      navigator.serviceWorker.controller.postMessage('build');
    }));
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
