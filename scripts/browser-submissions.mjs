#!/usr/bin/env node
// How long one GPU submission holds the adapter in the browser: the page's
// worker times every submission of one image (after a warm-up image, so
// pipelines are compiled) through `window.roentgenTimeSubmissions`, and the
// bound at full size is the largest submission `roentgen plan` finds at
// 512x512 (20 GFLOP: the submit budget, adapter-independent) over the
// slowest rate measured here, as `roentgen bench submissions` does
// natively. The browser cannot wait for the GPU after each submission, so
// each one's time is the queue's completion of it less the later of its
// submission and the previous completion (GpuContext::time_submissions).
//
//   cargo build -p roentgen-cli && trunk build --release   (scripts/test.sh builds both)
//   node scripts/browser-submissions.mjs CONVERTED_MODEL_DIR          (Chromium)
//   E2E_BROWSER=firefox node scripts/browser-submissions.mjs DIR      (Firefox)
// Env: SIZE (image side, default 128), RATED_SHARE (default 0.1: a
// submission counts for the rate when it carries at least that share of the
// budget), FULL (the full size, default 512), ROENTGEN (the CLI binary,
// default target/debug/roentgen). Prints JSON. Not a test.
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, symlinkSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serveDist } from '../tests/e2e/static-server.mjs';
import { ENGINE, launch, openPage, settled, waitUntil } from '../tests/e2e/browser.mjs';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
if (!process.argv[2]) {
  console.error('usage: node scripts/browser-submissions.mjs CONVERTED_MODEL_DIR');
  process.exit(2);
}
const model = resolve(process.argv[2]);
const side = Number(process.env.SIZE ?? 128);
const full = Number(process.env.FULL ?? 512);
const ratedShare = Number(process.env.RATED_SHARE ?? 0.1);

// The full size, dry, natively: the same submit budget cuts the same way
// in the page (a dry run records what a real one would submit).
const plan = JSON.parse(execFileSync(process.env.ROENTGEN ?? join(ROOT, 'target/debug/roentgen'), [
  'plan', '--model', model, '--size', String(full), '--steps', '1', '--before-download', '--json',
], { env: { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? tmpdir() } }).toString());
const budget = plan.submit_budget_flops;

const dist = join(ROOT, 'dist/');
const served = join(dist, 'submissions-model');
rmSync(served, { force: true });
symlinkSync(model, served);
const server = await serveDist(dist);
const browser = await launch();
const seconds = (t0) => +((Date.now() - t0) / 1000).toFixed(1);
try {
  const settings = { model: 'submissions-model/', steps: '1', guidance: '4', scheduler: 'ddim', size: `${side}x${side}`, seed: '1' };
  const t0 = Date.now();
  const { page, status } = await openPage(browser, `${server.url}?${new URLSearchParams({ ...settings, prompt: 'warm-up' })}`);
  if (status !== 'ready') throw new Error(`load: ${status}`);
  const loadS = seconds(t0);
  const generate = async (prompt) => {
    await page.getByTestId('prompt').fill(prompt);
    const t = Date.now();
    await page.getByTestId('generate').click();
    await settled(page);
    const done = await page.getByTestId('status').textContent();
    if (done !== 'done') throw new Error(`generate: ${done}`);
    return seconds(t);
  };
  const warmUpS = await generate('warm-up');
  await page.evaluate(() => window.roentgenTimeSubmissions(true));
  const timedS = await generate('small left apical pneumothorax');
  await page.evaluate(() => { window.roentgenSubmissions = undefined; window.roentgenTimeSubmissions(false); });
  await waitUntil(page, () => Array.isArray(window.roentgenSubmissions));
  const log = await page.evaluate(() => window.roentgenSubmissions);

  const longest = log.reduce((a, b) => (b.secs > a.secs ? b : a));
  const rated = log.filter((s) => s.gflop * 1e9 >= budget * ratedShare);
  const slowest = rated.reduce((a, b) => (b.gflop / b.secs < a.gflop / a.secs ? b : a));
  const slowestRate = slowest.gflop / slowest.secs;
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const report = {
    date: new Date().toISOString(),
    machine: { cpu: (cpuinfo.match(/^model name\s*:\s*(.*)$/m) ?? [])[1], cores: availableParallelism() },
    engine: ENGINE,
    adapter: (await page.getByTestId('adapter').textContent().catch(() => '')).trim(),
    model,
    full_size: full,
    full_submissions: plan.counts_per_image.submits,
    full_largest_submission_gflop: plan.largest_submission_flops / 1e9,
    size: side,
    load_s: loadS,
    warm_up_s: warmUpS,
    timed_image_s: timedS,
    timed_submissions: log.length,
    timed_gpu_s: +log.reduce((a, s) => a + s.secs, 0).toFixed(2),
    timed_gflop: +log.reduce((a, s) => a + s.gflop, 0).toFixed(2),
    longest,
    slowest_rated: { ...slowest, gflops: +slowestRate.toFixed(3) },
    full_longest_bound_s: +((plan.largest_submission_flops / 1e9) / slowestRate).toFixed(1),
    submissions: log,
  };
  console.log(JSON.stringify(report, null, 1));
} finally {
  await browser.close();
  await server.close();
  rmSync(served, { force: true });
}
