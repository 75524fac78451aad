// The first screen, as a new visitor sees it (issue 29): an example
// sentence in the prompt box, the image area (an example image until the
// first run) and Generate in view on a laptop (1280x800) and a phone
// (390x844) without scrolling, and on a software adapter one line that says
// the wait is minutes because there is no GPU. An empty prompt is refused
// with a sentence. Screenshots are kept in target/screenshots/ to look at.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serveDist } from './static-server.mjs';
import { launch, openPage, phaseOf, runsOn } from './browser.mjs';

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

/** Whether `[data-testid=id]` lies wholly inside the viewport, unscrolled. */
const inView = (page, id) => page.evaluate((id) => {
  const r = document.querySelector(`[data-testid=${id}]`).getBoundingClientRect();
  return r.width > 0 && r.top >= 0 && r.left >= 0 && r.bottom <= innerHeight && r.right <= innerWidth;
}, id);

test('the first screen: an example prompt, the image area and Generate in view at 1280x800 and 390x844, and a notice on a software adapter',
  runsOn('chromium', 'the first screen as the issue tried it: Chromium, whose SwiftShader is a software adapter'), async () => {
    const { page, context, status, errors } = await openPage(browser, server.url);
    assert.equal(status, 'ready');
    assert.equal(await page.getByTestId('prompt').inputValue(), 'Small left pleural effusion.');
    const notice = await page.getByTestId('software-notice').textContent();
    console.log(`# ${notice}`);
    assert.match(notice, /^No GPU in use: WebGPU runs on this computer's CPU \(.*swiftshader.*\), so an image takes longer: about \d+ min for the demo model at 8 steps; with a GPU, seconds\.$/i);
    mkdirSync(SHOTS, { recursive: true });
    for (const [width, height] of [[1280, 800], [390, 844]]) {
      await page.setViewportSize({ width, height });
      await page.evaluate(() => window.scrollTo(0, 0));
      for (const id of ['example', 'prompt', 'generate', 'software-notice']) {
        assert.ok(await inView(page, id), `${id} in view at ${width}x${height}`);
      }
      await page.screenshot({ path: join(SHOTS, `first-screen-${width}x${height}.png`) });
    }

    await page.getByTestId('prompt').fill('  ');
    await page.getByTestId('generate').click();
    assert.equal(await phaseOf(page), 'failed');
    assert.match(await page.getByTestId('status').textContent(), /^error: the prompt is empty: describe the findings, e\.g\. “Small left pleural effusion\.”$/);
    assert.deepEqual(errors, []);
    await context.close();
  });
