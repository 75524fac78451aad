// Memory of the browser's processes by kind, from `ps` and /proc: what the
// browser benchmarks sample. Chromium names a child's kind in `--type=`
// (gpu-process, renderer, utility...); Firefox ESR's children carry
// `-contentproc` and end with theirs (tab, gpu, rdd, socket, utility...).
//
// Two measures: RSS, what `ps` and task managers show, counts a shared page
// in every process that maps it, so shared memory between the renderer and
// the GPU process (WebGPU's transfer buffers) is counted twice in a sum over
// processes; PSS (proportional set size, /proc/PID/smaps_rollup) splits each
// shared page between the processes sharing it, so its sum is what the
// browser really holds. The peak is taken by PSS where /proc has it.
import { execSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** Pss and Pss_Shmem of `pid` in bytes, or null without /proc. */
function pss(pid) {
  try {
    const text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    const kb = (name) => Number((text.match(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm')) ?? [0, 0])[1]) * 1024;
    return { pss: kb('Pss'), shmem: kb('Pss_Shmem') };
  } catch {
    return null;
  }
}

/** The kind of a process of `engine` from its command line, or null. */
function kindOf(engine, exe, rest) {
  if (engine === 'firefox') {
    if (!/firefox/.test(exe)) return null;
    if (!/-contentproc/.test(rest)) return 'parent';
    return rest.trim().split(/\s+/).pop();
  }
  if (!/chrom/.test(exe)) return null;
  return (rest.match(/--type=(\S+)/) ?? [null, 'browser'])[1];
}

/**
 * Memory in bytes by process kind: `{ kind: { rss, pss, shmem } }` (pss and
 * shmem 0 where /proc cannot be read); {} when `ps` is missing.
 */
export function browserMemory(engine = 'chromium') {
  const kinds = {};
  try {
    for (const line of String(execSync('ps -eo pid=,rss=,args=')).split('\n')) {
      const m = line.trim().match(/^(\d+)\s+(\d+)\s+(\S+)(.*)$/);
      const kind = m && kindOf(engine, m[3], m[4]);
      if (!kind) continue;
      const k = (kinds[kind] ??= { rss: 0, pss: 0, shmem: 0 });
      k.rss += Number(m[2]) * 1024;
      const p = pss(m[1]);
      k.pss += p?.pss ?? 0;
      k.shmem += p?.shmem ?? 0;
    }
  } catch {
    // ps missing: nothing to report
  }
  return kinds;
}

/** The sum of `measure` ('rss', 'pss' or 'shmem') over all kinds. */
export const total = (kinds, measure) => Object.values(kinds).reduce((a, k) => a + k[measure], 0);

const mb = (bytes) => Math.round(bytes / 1e6);

/**
 * Samples the browser's memory every 250 ms. `take()` returns the peak since
 * the last take (by PSS, or RSS without /proc): the totals, and RSS, PSS and
 * shared-memory PSS by process, in MB; then starts anew. `stop()` ends the
 * sampling.
 */
export function rssPeakSampler(engine = 'chromium') {
  let peak = {};
  const size = (kinds) => total(kinds, 'pss') || total(kinds, 'rss');
  const timer = setInterval(() => {
    const now = browserMemory(engine);
    if (size(now) > size(peak)) peak = now;
  }, 250);
  return {
    take() {
      const p = {
        rss_peak_mb: mb(total(peak, 'rss')),
        pss_at_peak_mb: mb(total(peak, 'pss')),
        by_process_mb: Object.fromEntries(Object.entries(peak).map(([kind, k]) =>
          [kind, { rss: mb(k.rss), pss: mb(k.pss), pss_shmem: mb(k.shmem) }])),
      };
      peak = {};
      return p;
    },
    stop: () => clearInterval(timer),
  };
}
