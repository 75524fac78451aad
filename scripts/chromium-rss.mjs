// Resident memory of Chromium's processes by kind (browser, gpu-process,
// renderer, utility...), from `ps`: what the browser benchmarks sample.
import { execSync } from 'node:child_process';

/** RSS in bytes by process kind; {} when `ps` is missing. */
export function chromiumRss() {
  const kinds = {};
  try {
    for (const line of String(execSync('ps -eo rss=,args=')).split('\n')) {
      const m = line.trim().match(/^(\d+)\s+(\S*chrom\S*)(.*)$/);
      if (!m) continue;
      const kind = (m[3].match(/--type=(\S+)/) ?? [null, 'browser'])[1];
      kinds[kind] = (kinds[kind] ?? 0) + Number(m[1]) * 1024;
    }
  } catch {
    // ps missing: nothing to report
  }
  return kinds;
}

/** The sum over all kinds. */
export const total = (kinds) => Object.values(kinds).reduce((a, b) => a + b, 0);
