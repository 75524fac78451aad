// Every kernel, as `roentgen shaders` writes it for each storage path, compiles
// into a compute pipeline in the browser's WebGPU: Chromium's (Tint, then
// SwiftShader here) and Firefox's (naga in wgpu, then lavapipe).
// naga validates the same sources natively, but browsers compile WGSL with
// their own stricter compilers: `a <= b | c` passed naga and was refused by
// Tint, and only the kernels the page's self-check runs would have shown it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serveDist } from './static-server.mjs';
import { launch, newContext } from './browser.mjs';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
let server;
let browser;
let dir;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'roentgen-shaders-'));
  execFileSync(join(ROOT, 'target/debug/roentgen'), ['shaders', '--out', dir], { stdio: 'pipe' });
  server = await serveDist(join(ROOT, 'dist/'));
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The entry points of a WGSL source. */
const entries = (src) => [...src.matchAll(/@compute\s+@workgroup_size\([^)]*\)\s*fn\s+(\w+)/g)].map((m) => m[1]);

test('every kernel compiles in the browser on every storage path it has', async () => {
  const context = await newContext(browser);
  const page = await context.newPage();
  // Any page of the local origin: WebGPU needs a secure context.
  await page.goto(server.url + 'no-such-page');
  const hasF16 = await page.evaluate(async () => (await navigator.gpu.requestAdapter()).features.has('shader-f16'));
  const files = readdirSync(dir).filter((f) => hasF16 || !f.endsWith('.f16.wgsl')).sort();
  assert.ok(files.length >= 28, `${files.length} sources`);
  const failures = [];
  let pipelines = 0;
  const t0 = Date.now();
  for (const file of files) {
    const src = readFileSync(join(dir, file), 'utf8');
    const names = entries(src);
    assert.ok(names.length > 0, `${file}: no entry point found`);
    const errors = await page.evaluate(async ([src, names, f16]) => {
      const adapter = await navigator.gpu.requestAdapter();
      const device = await adapter.requestDevice({
        requiredFeatures: f16 ? ['shader-f16'] : [],
        requiredLimits: { maxComputeWorkgroupStorageSize: 16384, maxComputeInvocationsPerWorkgroup: 256 },
      });
      const out = [];
      device.pushErrorScope('validation');
      const module = device.createShaderModule({ code: src });
      const info = await module.getCompilationInfo();
      for (const m of info.messages) if (m.type !== 'info') out.push(`${m.type} at ${m.lineNum}:${m.linePos}: ${m.message}`);
      for (const entryPoint of names) {
        try {
          await device.createComputePipelineAsync({ layout: 'auto', compute: { module, entryPoint } });
        } catch (e) {
          out.push(`${entryPoint}: ${e.message}`);
        }
      }
      const scoped = await device.popErrorScope();
      if (scoped) out.unshift(scoped.message);
      device.destroy();
      return out;
    }, [src, names, file.endsWith('.f16.wgsl')]);
    pipelines += names.length;
    if (errors.length) failures.push(`${file}:\n  ${errors.join('\n  ')}`);
  }
  console.log(`# ${pipelines} pipelines from ${files.length} sources compiled in ${((Date.now() - t0) / 1000).toFixed(1)} s${hasF16 ? '' : ' (no shader-f16 here: f16-native sources skipped)'}`);
  assert.deepEqual(failures, []);
  await context.close();
});
