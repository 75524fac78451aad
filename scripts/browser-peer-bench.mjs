#!/usr/bin/env node
// Our UNet against ONNX Runtime Web's WebGPU backend, side by side: in one
// browser session, on one adapter, the same UNet call (the demo model's, on
// the CFG batch of 2, at its 32x32 latents) through ours (the page's worker,
// `window.roentgenBenchUnetCall`, crates/app/src/peer_bench.rs) and through
// onnxruntime-web (WebGPU execution provider, graph optimisations "all")
// on the same inputs, warmed up, the median of RUNS calls each (output read
// back to the CPU on both sides), the outputs compared, the ratio printed.
// Headless Chromium (SwiftShader without a GPU) or, with
// E2E_BROWSER=firefox, Firefox ESR (wgpu on Vulkan). Not a test: numbers
// are for benchmarks/README.md.
//
// Needs, besides dist/ (`trunk build --release`):
//   the ONNX files:  /work/venv/bin/python demo-model/export_onnx.py  (torch;
//                    writes target/onnx/, from demo-model/model's weights)
//   onnxruntime-web: installed here into target/peer/ (ignored) on first use,
//                    the pinned version below, from the npm registry.
//
//   node scripts/browser-peer-bench.mjs [dist/] [runs] > result.json
//
// Another model (the full-size SD v1.5 graph with random weights): PEER_MODEL
// names its roentgen-weights folder (served to the page as ?model=), and
// PEER_ONNX the folder export_onnx.py wrote from the same weights
// (`--diffusers DIR --latent 16 --only-f16`).
//
// PEER_DUMP=DIR writes the inputs and both engines' outputs there as raw
// little-endian f32 (sample.f32, context.f32, ours.f32, onnxruntime-web-
// PRECISION.f32, with dump.json), for demo-model/peer_reference.py to hold
// both to torch in f32: where both compute in f16, their distance from each
// other says less than each one's distance from the exact answer.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { serveDist } from '../tests/e2e/static-server.mjs';
import { ENGINE, launch, openPage } from '../tests/e2e/browser.mjs';

const ORT_VERSION = '1.31.1';
const ROOT = resolve(import.meta.dirname, '..');
const dist = resolve(process.argv[2] ?? join(ROOT, 'dist'));
const RUNS = Number(process.argv[3] ?? 5);
const peer = join(ROOT, 'target/peer');
const onnx = resolve(process.env.PEER_ONNX ?? join(ROOT, 'target/onnx'));
const peerModel = process.env.PEER_MODEL && resolve(process.env.PEER_MODEL);
const dump = process.env.PEER_DUMP && resolve(process.env.PEER_DUMP);
const writeF32 = (name, xs) => writeFileSync(join(dump, name), Buffer.from(Float32Array.from(xs).buffer));

const ortDir = join(peer, 'node_modules/onnxruntime-web/dist');
if (!existsSync(join(ortDir, 'ort.webgpu.min.mjs'))) {
  mkdirSync(peer, { recursive: true });
  console.error(`installing onnxruntime-web ${ORT_VERSION} into ${peer}`);
  execFileSync('npm', ['install', '--prefix', peer, '--no-audit', '--no-fund', `onnxruntime-web@${ORT_VERSION}`],
    { stdio: ['ignore', 'ignore', 'inherit'] });
}
const ortPackage = JSON.parse(readFileSync(join(peer, 'node_modules/onnxruntime-web/package.json'), 'utf8'));
if (!existsSync(join(onnx, 'export.json'))) {
  throw new Error(`no ${onnx}/export.json: run demo-model/export_onnx.py first (dev-time, torch)`);
}
const exported = JSON.parse(readFileSync(join(onnx, 'export.json'), 'utf8'));

// One origin for both engines: the page's files, ORT's at /ort/, the graphs at /onnx/.
const site = join(peer, 'site');
rmSync(site, { recursive: true, force: true });
mkdirSync(site, { recursive: true });
for (const name of readdirSync(dist)) symlinkSync(join(dist, name), join(site, name));
symlinkSync(ortDir, join(site, 'ort'));
symlinkSync(onnx, join(site, 'onnx'));
if (peerModel) symlinkSync(peerModel, join(site, 'peer-model'));

/** Seeded standard normals (xorshift + Box-Muller): the same inputs every run. */
function normals(n, seed) {
  let s = seed >>> 0 || 1;
  const u = () => {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    return (s + 0.5) / 4294967296;
  };
  const out = new Array(n);
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(u()));
    const a = 2 * Math.PI * u();
    out[i] = r * Math.cos(a);
    if (i + 1 < n) out[i + 1] = r * Math.sin(a);
  }
  return out;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const sampleShape = exported.unet_inputs.sample;
const contextShape = exported.unet_inputs.encoder_hidden_states;
const size = (s) => s.reduce((a, b) => a * b, 1);
// Shaped as the worker's UnetCall (crates/app/src/protocol.rs); ORT is fed the same.
const inputs = {
  sample: normals(size(sampleShape), 1),
  sample_shape: sampleShape,
  t: 500,
  context: normals(size(contextShape), 2),
  context_shape: contextShape,
  runs: RUNS,
};

const server = await serveDist(join(site, '/'));
const browser = await launch();
try {
  const { page, context, status } = await openPage(browser, server.url + (peerModel ? '?model=peer-model%2F' : ''));
  if (status !== 'ready') throw new Error(`the page did not get ready: ${status}`);
  // Ours: the page hands the call to its worker and leaves the answer on
  // window (Firefox's WebDriver BiDi cannot evaluate in a worker).
  await page.evaluate((json) => {
    window.roentgenUnetCall = undefined;
    window.roentgenBenchUnetCall(json);
  }, JSON.stringify(inputs));
  await page.waitForFunction(() => window.roentgenUnetCall !== undefined, null, { timeout: 1_200_000 });
  const answer = await page.evaluate(() => window.roentgenUnetCall);
  if (answer.Err) throw new Error(`our UNet call failed: ${answer.Err}`);
  const ours = answer.Ok;
  console.error(`ours (${ours.adapter}, ${ours.math} math): ${ours.ms.map((m) => m.toFixed(0)).join(', ')} ms`);
  if (dump) {
    mkdirSync(dump, { recursive: true });
    writeF32('sample.f32', inputs.sample);
    writeF32('context.f32', inputs.context);
    writeF32('ours.f32', ours.output);
    writeFileSync(join(dump, 'dump.json'), JSON.stringify({
      model: exported.model, sample: sampleShape, encoder_hidden_states: contextShape, timestep: inputs.t,
      ours_math: ours.math,
    }));
  }

  // The f32 graph everywhere; the f16 one too where the adapter computes
  // in f16 (as ours does there: shader-f16).
  const graphs = (ours.math === 'f16' ? ['f16', 'f32'] : ['f32']).filter((p) => exported.files[`unet-${p}`]);
  if (!graphs.length) throw new Error(`no graph in ${onnx} for ${ours.math} math`);
  for (const precision of graphs) {
    const theirs = await page.evaluate(async ([a, file]) => {
      const ort = await import('/ort/ort.webgpu.min.mjs');
      ort.env.wasm.wasmPaths = '/ort/';
      ort.env.wasm.numThreads = 1;
      const f16 = file.includes('f16');
      // Half values as their bits (round to nearest even, subnormals kept).
      const tensor = (xs, shape) => f16
        ? new ort.Tensor('float16', new Uint16Array(Float16Array.from(xs).buffer), shape)
        : new ort.Tensor('float32', Float32Array.from(xs), shape);
      const t0 = performance.now();
      const session = await ort.InferenceSession.create(`/onnx/${file}`, {
        executionProviders: ['webgpu'],
        graphOptimizationLevel: 'all',
      });
      const createMs = performance.now() - t0;
      const feeds = {
        sample: tensor(a.sample, a.sample_shape),
        timestep: tensor([a.t], [1]),
        encoder_hidden_states: tensor(a.context, a.context_shape),
      };
      const call = async () => {
        const out = await session.run(feeds);
        return out.out_sample.getData();
      };
      await call();
      const ms = [];
      let data;
      for (let i = 0; i < a.runs; i++) {
        const s = performance.now();
        data = await call();
        ms.push(performance.now() - s);
      }
      const output = f16
        ? Array.from(new Float16Array(data.buffer, data.byteOffset, data.length))
        : Array.from(data);
      return { output, ms, createMs };
    }, [inputs, exported.files[`unet-${precision}`]]);
    console.error(`onnxruntime-web (${precision} graph): ${theirs.ms.map((m) => m.toFixed(0)).join(', ')} ms`);

    let maxDiff = 0;
    let maxRef = 0;
    for (let i = 0; i < ours.output.length; i++) {
      maxDiff = Math.max(maxDiff, Math.abs(ours.output[i] - theirs.output[i]));
      maxRef = Math.max(maxRef, Math.abs(theirs.output[i]));
    }
    // Same weights (the f16 values), same inputs: f32 math on both sides
    // agrees to rounding order; where either side computes in f16, to a few
    // f16 steps of the output's scale.
    const tolerance = precision === 'f32' && ours.math === 'f32' ? 1e-3 * Math.max(1, maxRef) : 2e-2 * Math.max(1, maxRef);
    const oursMs = median(ours.ms);
    const theirsMs = median(theirs.ms);
    const result = {
      date: new Date().toISOString(),
      engine: ENGINE,
      browser: browser.version?.() ?? '',
      adapter: ours.adapter,
      math: ours.math,
      model: `UNet of ${exported.model}, CFG batch 2`,
      inputs: { sample: sampleShape, encoder_hidden_states: contextShape, timestep: inputs.t },
      runs: RUNS,
      ours_ms: ours.ms,
      ours_median_ms: oursMs,
      onnxruntime_web: { version: ortPackage.version, graph: exported.files[`unet-${precision}`],
        session_create_ms: theirs.createMs, ms: theirs.ms, median_ms: theirsMs },
      speedup: theirsMs / oursMs,
      max_abs_diff: maxDiff,
      max_abs_output: maxRef,
      agree: maxDiff <= tolerance,
    };
    console.error(`${ENGINE}, ${ours.adapter}: ours ${oursMs.toFixed(0)} ms (${ours.math} math), onnxruntime-web ${ortPackage.version} `
      + `${theirsMs.toFixed(0)} ms (${precision} graph) per UNet call (median of ${RUNS}): ours ${result.speedup.toFixed(2)}x; `
      + `outputs differ by at most ${maxDiff.toExponential(2)} (largest ${maxRef.toFixed(2)}): `
      + `${result.agree ? 'agree' : 'beyond the tolerance: PEER_DUMP and demo-model/peer_reference.py say which is off'}`);
    console.log(JSON.stringify(result));
    if (dump) writeF32(`onnxruntime-web-${precision}.f32`, theirs.output);
    if (!result.agree) process.exitCode = 1;
  }
  await context.close();
} finally {
  await browser.close();
  await server.close();
}
