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

/**
 * Samples Chromium's resident memory every 250 ms. `take()` returns the peak
 * since the last take (total and by process, in MB) and starts anew;
 * `stop()` ends the sampling.
 */
export function rssPeakSampler() {
  let peak = {};
  const timer = setInterval(() => {
    const now = chromiumRss();
    if (total(now) > total(peak)) peak = now;
  }, 250);
  return {
    take() {
      const p = {
        chromium_rss_peak_mb: Math.round(total(peak) / 1e6),
        by_process_mb: Object.fromEntries(Object.entries(peak).map(([k, v]) => [k, Math.round(v / 1e6)])),
      };
      peak = {};
      return p;
    },
    stop: () => clearInterval(timer),
  };
}
