// The built page finds a WebGPU adapter, shows its limits, and proves a WGSL
// kernel from shaders/ ran correctly on it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { serveDist } from './static-server.mjs';
import { PAGE_LOGIC, launch, newContext, openPage, tiny } from './browser.mjs';

const DIST = fileURLToPath(new URL('../../dist/', import.meta.url));
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

test('the page reports the adapter and a passing kernel check', async () => {
  const context = await newContext(browser);
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(server.url);
  const check = page.getByTestId('kernel-check');
  // The GPU panel is collapsed when all is well: the check is there, not shown.
  await check.waitFor({ state: 'attached' });
  assert.equal(await page.getByTestId('gpu-panel').getAttribute('open'), null, 'collapsed while all is well');
  assert.match(await page.getByTestId('gpu-summary').textContent(), /kernels OK$/);
  const adapter = await page.getByTestId('adapter').textContent();
  const f16 = await page.getByTestId('shader-f16').textContent();
  const limits = await page.getByTestId('limits').textContent();
  console.log(`# ${adapter}\n# ${f16}\n# ${limits.replace(/\s+/g, ' ')}`);
  assert.match(adapter, /^Adapter: .+/);
  assert.match(f16, /shader-f16: (yes|no)/);
  assert.match(limits, /maxStorageBufferBindingSize\s*\d+ MiB/);
  assert.match(limits, /maxComputeInvocationsPerWorkgroup\s*\d+/);
  const checks = await page.locator('ul.checks li').allTextContents();
  console.log(checks.map((c) => `# ${c}`).join('\n'));
  assert.equal(checks.length, 6, 'six kernel families, on the f16 storage the model computes with');
  for (const c of checks) assert.match(c, /\[f16 [^\]]*\].* OK$/);
  console.log(`# ${await page.getByTestId('check-time').textContent()}`);
  assert.equal(await check.textContent(), 'kernel OK');
  await page.screenshot({ path: fileURLToPath(new URL('../../target/e2e-smoke.png', import.meta.url)) });
  assert.deepEqual(errors, []);
  await context.close();
});

test('without WebGPU the page says so and names browsers that have it', async () => {
  const context = await newContext(browser);
  // Hide navigator.gpu before any page script runs, as in a browser without WebGPU.
  await context.addInitScript(() => {
    Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined });
  });
  const page = await context.newPage();
  await page.goto(server.url);
  const msg = page.getByTestId('no-webgpu');
  await msg.waitFor();
  assert.match(await msg.textContent(), /does not offer WebGPU.*Chrome/s);
  // A problem opens the panel by itself (waitFor above needs it visible).
  assert.notEqual(await page.getByTestId('gpu-panel').getAttribute('open'), null);
  await context.close();
});

test('"Profile one step" shows where a UNet step\'s time goes, by kernel family, and offers it as JSON', PAGE_LOGIC, async () => {
  const { page, context, errors, status } = await openPage(browser, server.url + tiny());
  assert.equal(status, 'ready', status);
  await page.getByTestId('gpu-panel').locator('summary').click();
  await page.getByTestId('profile-step').click();
  await page.getByTestId('profile-table').waitFor();
  const line = await page.getByTestId('profile-status').textContent();
  console.log(`# ${line}`);
  const [, dispatches] = /^one step, (\d+) dispatches, [\d.]+ ms, timed by /.exec(line) ?? [];
  assert.ok(Number(dispatches) > 0, line);
  const rows = await page.getByTestId('profile-row').evaluateAll((trs) =>
    trs.map((tr) => [...tr.children].map((td) => td.textContent)));
  console.log(rows.map((r) => `# ${r.join('  ')}`).join('\n'));
  const families = rows.map((r) => r[0]);
  for (const f of ['conv2d', 'matmul', 'attention', 'group_norm']) {
    assert.ok(families.some((x) => x.startsWith(f)), `${f} in ${families}`);
  }
  assert.equal(rows.reduce((n, r) => n + Number(r[1]), 0), Number(dispatches), 'the rows hold every dispatch');
  const shares = rows.reduce((n, r) => n + parseFloat(r[3]), 0);
  assert.ok(Math.abs(shares - 100) < 0.1 * rows.length, `shares sum to ${shares}%`);
  // The JSON a visitor would send: the same profile.
  const href = await page.getByTestId('profile-json').getAttribute('href');
  const json = JSON.parse(decodeURIComponent(href.slice(href.indexOf(',') + 1)));
  assert.equal(json.dispatches, Number(dispatches));
  assert.deepEqual(json.rows.map((r) => r.family), families);
  assert.match(json.adapter, /\S/);
  // A step still runs after it: profiling is off again.
  await page.getByTestId('prompt').fill('small left pleural effusion');
  await page.getByTestId('steps').fill('2');
  await page.getByTestId('generate').click();
  await page.waitForFunction(() => document.querySelector('[data-testid=status]')?.dataset.phase === 'done', null, { timeout: 300_000 });
  assert.deepEqual(errors, []);
  await context.close();
});

test('the peer benchmark\'s UNet call answers through the page: the same inputs give the same output, bad ones a sentence', PAGE_LOGIC, async () => {
  const { page, context, errors, status } = await openPage(browser, server.url + tiny());
  assert.equal(status, 'ready', status);
  // What scripts/browser-peer-bench.mjs does, on the tiny model's shapes.
  const call = (a) => page.evaluate(async (a) => {
    window.roentgenUnetCall = undefined;
    window.roentgenBenchUnetCall(typeof a === 'string' ? a : JSON.stringify(a));
    while (window.roentgenUnetCall === undefined) await new Promise((r) => setTimeout(r, 50));
    return window.roentgenUnetCall;
  }, a);
  const wave = (n, f) => Array.from({ length: n }, (_, i) => Math.sin(i * f));
  const ok = {
    sample: wave(2 * 4 * 8 * 8, 0.37), sample_shape: [2, 4, 8, 8], t: 500,
    context: wave(2 * 77 * 32, 0.11), context_shape: [2, 77, 32], runs: 2,
  };
  const first = await call(ok);
  assert.ok(first.Ok, JSON.stringify(first.Err));
  assert.equal(first.Ok.output.length, 2 * 4 * 8 * 8);
  assert.ok(first.Ok.output.every(Number.isFinite), 'a finite noise prediction');
  assert.ok(first.Ok.output.some((v) => v !== 0), 'not all zero');
  assert.equal(first.Ok.ms.length, 2);
  assert.ok(first.Ok.ms.every((m) => m > 0), `${first.Ok.ms}`);
  assert.match(first.Ok.math, /^f(16|32)$/);
  const again = await call({ ...ok, runs: 1 });
  assert.deepEqual(again.Ok.output, first.Ok.output, 'the same call, the same output');
  // Another timestep is another call.
  const other = await call({ ...ok, t: 20, runs: 1 });
  assert.notDeepEqual(other.Ok.output, first.Ok.output);
  // Context of the wrong width, and not JSON at all: refused in words.
  const wrong = await call({ ...ok, context: wave(2 * 77 * 16, 0.1), context_shape: [2, 77, 16] });
  assert.match(wrong.Err ?? '', /\S/, JSON.stringify(wrong));
  const garbled = await call('{"sample": [');
  assert.match(garbled.Err ?? '', /^roentgenBenchUnetCall: /);
  assert.deepEqual(errors, []);
  await context.close();
});
