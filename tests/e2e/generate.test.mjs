// The page generates from the tiny test model: a share link reproduces the
// CLI's image for the same parameters, a fresh context reproduces the page's
// own, the typed-prompt path works, and hostile links give a message.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, mkdtempSync, cpSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serveDist } from './static-server.mjs';
import { PAGE_ARITHMETIC, PAGE_LOGIC, TINY, launch, openPage, resultImages, settled, tiny } from './browser.mjs';
import { decodePng } from './png.mjs';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DIST = join(ROOT, 'dist/');
let server;
let browser;

before(async () => {
  server = await serveDist(DIST);
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.close();
});

/** Opens `query` (on the tiny model) in a fresh context and waits for a final status. */
const open = (query) => openPage(browser, server.url + tiny(query));

const results = resultImages;

const LINK = '?prompt=small+left+apical+pneumothorax&negative=lateral+view&seed=5&steps=3&guidance=4&scheduler=ddim&run=1';

/** Asserts `img` (the page's) is `roentgen generate`'s image of the same
 * settings on tests/goldens/MODEL/model, within 2 levels, with its texts. */
function assertCliImage(img, model, scheduler, extra = []) {
  const dir = mkdtempSync(join(tmpdir(), 'roentgen-e2e-'));
  const out = join(dir, 'cli.png');
  execFileSync(join(ROOT, 'target/debug/roentgen'), [
    'generate', '--model', join(ROOT, `tests/goldens/${model}/model`),
    '--prompt', 'small left apical pneumothorax', '--negative', 'lateral view',
    '--seed', '5', '--steps', '3', '--guidance', '4', '--scheduler', scheduler, '--out', out, ...extra,
  ], { env: { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? tmpdir() }, stdio: 'pipe' });
  const cli = decodePng(readFileSync(out));
  rmSync(dir, { recursive: true, force: true });
  let max = 0;
  for (let i = 0; i < cli.pixels.length; i++) max = Math.max(max, Math.abs(cli.pixels[i] - img.pixels[i]));
  console.log(`# ${model}: page (${PAGE_ARITHMETIC}) vs CLI (lavapipe, f16): max pixel difference ${max}`);
  assert.ok(max <= 2, `pixels differ by up to ${max} levels (tolerance 2)`);
  for (const k of ['prompt', 'negative', 'seed', 'steps', 'guidance', 'scheduler', 'Comment']) {
    assert.equal(img.text[k], cli.text[k], k);
  }
}

test('a share link reproduces the CLI image, in any fresh context', async () => {
  const a = await open(LINK);
  assert.equal(a.status, 'done', a.status);
  console.log(`# time to first image (load, self-check, model, 3 steps): ${a.seconds.toFixed(1)} s`);
  for (const id of ['check-time', 'download', 'progress']) {
    console.log(`#   ${id}: ${await a.page.getByTestId(id).textContent()}`);
  }
  // The link's texts were encoded as soon as the text encoder had arrived
  // (the tiny model's one shard holds everything, so none was left to come).
  assert.match(await a.page.getByTestId('download').textContent(), /; prompt encoded at [\d.]+ s, 0 shards before the end/);
  const [img] = await results(a.page);
  assert.equal(img.width, 16);
  assert.equal(img.height, 16);
  assert.equal(img.text.seed, '5');
  assert.equal(img.text.scheduler, 'ddim');
  assert.equal(img.text.Comment, 'synthetic image — not for diagnosis');

  assertCliImage(img, 'tiny-sd2', 'ddim');

  const b = await open(LINK);
  assert.equal(b.status, 'done');
  const [again] = await results(b.page);
  assert.deepEqual(again.pixels, img.pixels, 'same link, same image');
  assert.deepEqual([...a.errors, ...b.errors], []);
  await a.page.screenshot({ path: join(ROOT, 'target/e2e-generate.png'), fullPage: true });
  await a.context.close();
  await b.context.close();
});

test('an SD 2.x model (RoentGen-v2\'s family) draws the CLI\'s image and is named; demographics open its prompt', async () => {
  const link = LINK.replace('scheduler=ddim', 'scheduler=dpm%2B%2B2m')
    + `&age=50&sex=female&race=White&model=${encodeURIComponent('tiny-v2/')}`;
  const s = await open(link);
  assert.equal(s.status, 'done', s.status);
  assert.match(await s.page.getByTestId('model-note').textContent(),
    /Model: tiny-v2\/ \(Stable Diffusion 2\.x: 32-wide text encoder \(2 layers\), 16x16, epsilon-prediction\)/);
  // The link's patient is shown beside the prompt and opens it.
  assert.equal(await s.page.getByTestId('age').inputValue(), '50');
  assert.match(await s.page.getByTestId('subject-sentence').textContent(), /opens with: .50 year old White female\../);
  const [img] = await results(s.page);
  assert.equal(img.text.prompt, '50 year old White female. small left apical pneumothorax');
  assertCliImage(img, 'tiny-v2', 'dpm++2m', ['--age', '50', '--sex', 'female', '--race', 'White']);
  // Its share link carries them.
  const shared = await s.page.getByTestId('share-link').first().getAttribute('href');
  assert.match(shared, /age=50&sex=female&race=White/);
  assert.deepEqual(s.errors, []);
  await s.context.close();
});

test('the compare view varies one demographic with the same seed and findings, and its link opens the pair', PAGE_LOGIC, async () => {
  const link = LINK.replace('&run=1', '') + `&age=50&sex=female&race=White&model=${encodeURIComponent('tiny-v2/')}`;
  const s = await open(link);
  assert.equal(s.status, 'ready', s.status);
  const page = s.page;
  // Choosing "sex" offers the other one.
  await page.getByTestId('compare-vary').selectOption('sex');
  assert.equal(await page.getByTestId('compare-value').inputValue(), 'male');
  assert.equal(await page.getByTestId('compare-prompt').count(), 0, 'the findings stay the prompt\'s');
  await page.getByTestId('compare').click();
  await settled(page);
  assert.equal(await page.getByTestId('status').textContent(), 'done');
  assert.deepEqual(await page.getByTestId('caption').allTextContents(), ['sex: female, seed 5', 'sex: male, seed 5']);
  const [female, male] = await results(page);
  assert.equal(female.text.prompt, '50 year old White female. small left apical pneumothorax');
  assert.equal(male.text.prompt, '50 year old White male. small left apical pneumothorax');
  assert.notDeepEqual(female.pixels, male.pixels, 'the sentence changes the image');
  // The other image is the CLI's for that patient.
  assertCliImage(male, 'tiny-v2', 'ddim', ['--age', '50', '--sex', 'male', '--race', 'White']);
  const pair = await page.getByTestId('share-link').first().getAttribute('href');
  assert.match(pair, /compare_sex=male/);
  assert.doesNotMatch(pair, /compare=/);

  // An age to compare must be given; then the link opens the pair again.
  await page.getByTestId('compare-vary').selectOption('age');
  await page.getByTestId('compare-value').fill('');
  await page.getByTestId('compare').click();
  assert.match(await page.getByTestId('status').textContent(), /^error: compare: give the other image's age/);
  const again = await open(pair);
  assert.equal(again.status, 'done', again.status);
  assert.equal(await again.page.getByTestId('compare-vary').inputValue(), 'sex');
  const [f2, m2] = await results(again.page);
  assert.deepEqual([f2.pixels, m2.pixels], [female.pixels, male.pixels]);
  assert.deepEqual([...s.errors, ...again.errors], []);
  await s.context.close();
  await again.context.close();
});

test('typing a prompt and pressing Generate makes the asked number of images', PAGE_LOGIC, async () => {
  const s = await open('');
  assert.equal(s.status, 'ready');
  await s.page.getByTestId('prompt').fill('moderate cardiomegaly');
  assert.match(await s.page.getByTestId('tokens').textContent(), /^\d+ \/ 77 tokens$/);
  await s.page.getByTestId('steps').fill('2');
  await s.page.getByTestId('count').fill('2');
  // Not the model's own 16x16: the image and its share link follow the size.
  await s.page.getByTestId('size').fill('24x12');
  await s.page.getByTestId('generate').click();
  await settled(s.page);
  assert.equal(await s.page.getByTestId('status').textContent(), 'done');
  const imgs = await results(s.page);
  assert.equal(imgs.length, 2);
  assert.deepEqual([imgs[0].width, imgs[0].height], [24, 12]);
  assert.match(await s.page.getByTestId('share-link').first().getAttribute('href'), /[?&]size=24x12(&|$)/);
  assert.notDeepEqual(imgs[0].pixels, imgs[1].pixels, 'seed and seed + 1 differ');
  await s.context.close();
});

test('hostile or broken links give a message and never break the page', PAGE_LOGIC, async () => {
  for (const [query, what] of [
    ['?steps=NaN&run=1', /^error: link: steps/],
    ['?scheduler=%3Cscript%3Ealert(1)%3C/script%3E&run=1', /^error: link: scheduler/],
    // 10,000 characters: five times the limit (a 100 KB URL is refused by
    // the test server itself, before the page could see it).
    [`?prompt=${'x'.repeat(10_000)}&run=1`, /^error: link: prompt/],
    ['?model=javascript:alert(1)', /^error: link: model/],
    ['?v=2&prompt=x&run=1', /^error: link: v: this link was made by a newer RoentGen Web/],
  ]) {
    const s = await open(query);
    assert.match(s.status, what, query.slice(0, 60));
    assert.equal(await s.page.getByTestId('result').count(), 0);
    assert.deepEqual(s.errors, []);
    await s.context.close();
  }
  // Script text in a prompt is shown as text, never run.
  const s = await open('?prompt=%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E&steps=1');
  assert.equal(s.status, 'ready');
  assert.equal(await s.page.getByTestId('prompt').inputValue(), '<img src=x onerror=alert(1)>');
  assert.equal(await s.page.locator('img[src=x]').count(), 0);
  await s.context.close();
  // A model URL pasted from a file listing names the manifest itself.
  const pasted = await open(`?model=${encodeURIComponent(`${TINY}manifest.json`)}&steps=2&run=1`);
  assert.equal(pasted.status, 'done', pasted.status);
  assert.deepEqual(pasted.errors, []);
  await pasted.context.close();
});

test('a reload fetches no shard: verified shards come from the browser cache', PAGE_LOGIC, async () => {
  const s = await open('');
  assert.equal(s.status, 'ready');
  const shardRequests = () => server.requests.filter((p) => p.endsWith('.bin')).length;
  const before = shardRequests();
  await s.page.reload();
  await settled(s.page);
  assert.equal(await s.page.getByTestId('status').textContent(), 'ready');
  assert.equal(shardRequests(), before, 'no shard fetched on reload');
  assert.match(await s.page.getByTestId('download').textContent(), /1 of 1 shards from this browser's cache/);
  await s.context.close();
});

test('a corrupted shard gives an error naming it and is not cached', PAGE_LOGIC, async () => {
  const dir = join(DIST, 'corrupt-model');
  rmSync(dir, { recursive: true, force: true });
  cpSync(join(DIST, TINY), dir, { recursive: true });
  const shard = join(dir, 'shard-00000.bin');
  const bytes = readFileSync(shard);
  bytes[4321] ^= 0x10;
  writeFileSync(shard, bytes);
  try {
    const s = await open('?model=corrupt-model/');
    assert.match(s.status, /^error: .*shard-00000\.bin.*sha256/);
    const keys = await s.page.evaluate(async () =>
      (await (await caches.open('roentgen-weights-v1')).keys()).map((r) => r.url));
    assert.ok(!keys.some((k) => k.includes('corrupt-model')), `cached: ${keys}`);
    const stored = await s.page.evaluate(async () => {
      const root = await navigator.storage.getDirectory();
      const names = [];
      for await (const name of root.keys()) names.push(name);
      return names;
    });
    assert.deepEqual(stored.filter((n) => n !== 'roentgen-weights-v1'), []);
    const files = await s.page.evaluate(async () => {
      try {
        const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle('roentgen-weights-v1');
        const names = [];
        for await (const name of dir.keys()) names.push(name);
        return names;
      } catch {
        return [];
      }
    });
    assert.deepEqual(files, [], 'a shard that failed its check is never stored');
    assert.deepEqual(s.errors, []);
    await s.context.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
