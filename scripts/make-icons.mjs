// Draws the page's app icons (web/icon-192.png, web/icon-512.png) once, at
// development time: a normal chest from the bundled demo model at its own
// 128x128, scaled up (bilinear) to the sizes web app manifests ask for.
//   node scripts/make-icons.mjs [path/to/roentgen]   (default target/release/roentgen)
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import { decodePng } from '../tests/e2e/png.mjs';

const roentgen = process.argv[2] ?? 'target/release/roentgen';
const dir = mkdtempSync(join(tmpdir(), 'roentgen-icons-'));
const source = join(dir, 'chest.png');
execFileSync(roentgen, ['generate', '--model', 'demo-model/model', '--prompt', 'No acute cardiopulmonary process.',
  '--steps', '20', '--scheduler', 'dpm++2m', '--seed', '4', '--out', source], { stdio: 'inherit' });
const img = decodePng(readFileSync(source));
rmSync(dir, { recursive: true, force: true });

const grey = (x, y) => img.pixels[3 * (y * img.width + x)];
function scaled(side) {
  const out = Buffer.alloc(side * side);
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      const sx = Math.min(img.width - 1, Math.max(0, (x + 0.5) * img.width / side - 0.5));
      const sy = Math.min(img.height - 1, Math.max(0, (y + 0.5) * img.height / side - 0.5));
      const x0 = Math.floor(sx), y0 = Math.floor(sy);
      const x1 = Math.min(x0 + 1, img.width - 1), y1 = Math.min(y0 + 1, img.height - 1);
      const fx = sx - x0, fy = sy - y0;
      const top = grey(x0, y0) * (1 - fx) + grey(x1, y0) * fx;
      const bottom = grey(x0, y1) * (1 - fx) + grey(x1, y1) * fx;
      out[y * side + x] = Math.round(top * (1 - fy) + bottom * fy);
    }
  }
  return out;
}

const CRC = new Int32Array(256).map((_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c;
});
function chunk(type, data) {
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  let c = -1;
  for (const b of body) c = CRC[(c ^ b) & 0xff] ^ (c >>> 8);
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  body.copy(out, 4);
  out.writeInt32BE(~c, 8 + data.length);
  return out;
}
function greyPng(side, pixels) {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(side, 0);
  ihdr.writeUInt32BE(side, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // greyscale
  const raw = Buffer.alloc(side * (side + 1));
  for (let y = 0; y < side; y++) pixels.copy(raw, y * (side + 1) + 1, y * side, (y + 1) * side);
  return Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw, { level: 9 })), chunk('IEND', Buffer.alloc(0))]);
}
for (const side of [192, 512]) {
  writeFileSync(`web/icon-${side}.png`, greyPng(side, scaled(side)));
  console.log(`web/icon-${side}.png`);
}
