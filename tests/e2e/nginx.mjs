// Debian's nginx, run for a test on exactly the site deploy/nginx/site.sh
// writes for a lecturer, with a self-signed certificate for 127.0.0.1 made
// here by openssl. The only lines that are the test's own are the wrapper
// a system's /etc/nginx/nginx.conf would be (pid, logs, temp folders) and
// an access log that records what the assertions read.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** Debian's nginx is in /usr/sbin, which a user's PATH may lack. */
const NGINX = process.env.NGINX ?? (existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : 'nginx');

/** A port free now (nginx needs numbers in its configuration). */
function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** The processes whose parent is `pid` (nginx's workers under its master). */
export function childrenOf(pid) {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        // Field 4 of /proc/PID/stat, after the parenthesised command name.
        const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid;
      } catch {
        return false;
      }
    })
    .map(Number);
}

/**
 * Starts nginx serving `dist` as the page and `models` (name -> folder) as
 * the gated model host, on free ports; `shardRate` is site.sh's
 * --shard-rate. Returns the origins, the password, the certificate (PEM, for
 * node's own requests), the access log's lines, and kill/close.
 */
export async function startNginx({ dist, models, shardRate = '0' }) {
  const dir = mkdtempSync(join(tmpdir(), 'roentgen-nginx-'));
  const [pagePort, modelPort, redirectPort] = [await freePort(), await freePort(), await freePort()];
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2',
    '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
  ], { stdio: 'ignore' });
  const password = execFileSync('openssl', ['rand', '-hex', '16'], { encoding: 'utf8' }).trim();
  writeFileSync(join(dir, 'password'), `${password}\n`);
  mkdirSync(join(dir, 'models'));
  for (const [name, folder] of Object.entries(models)) symlinkSync(folder, join(dir, 'models', name));
  const site = execFileSync(join(ROOT, 'deploy/nginx/site.sh'), [
    '--host', '127.0.0.1', '--dist', dist, '--models', join(dir, 'models'),
    '--password-file', join(dir, 'password'),
    '--cert', join(dir, 'cert.pem'), '--key', join(dir, 'key.pem'),
    '--page-port', String(pagePort), '--model-port', String(modelPort),
    '--redirect-port', String(redirectPort), '--shard-rate', shardRate,
  ], { encoding: 'utf8' });
  writeFileSync(join(dir, 'site.conf'), site);
  mkdirSync(join(dir, 'tmp'));
  // As root, nginx's workers would become www-data, who may not read a
  // checkout under /root; a test's workers stay who started them.
  const user = process.getuid() === 0 ? 'user root;' : '';
  writeFileSync(join(dir, 'nginx.conf'), `
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log info;
${user}
events { worker_connections 256; }
http {
  map $http_authorization $roentgen_auth { "" none; default given; }
  log_format test '$server_port $request_method $uri $args $status range=$http_range auth=$roentgen_auth sent=$body_bytes_sent';
  access_log ${dir}/access.log test;
  client_body_temp_path ${dir}/tmp/body;
  proxy_temp_path ${dir}/tmp/proxy;
  fastcgi_temp_path ${dir}/tmp/fastcgi;
  uwsgi_temp_path ${dir}/tmp/uwsgi;
  scgi_temp_path ${dir}/tmp/scgi;
  include ${dir}/site.conf;
}
`);
  execFileSync(NGINX, ['-t', '-q', '-p', dir, '-c', join(dir, 'nginx.conf')], { stdio: 'inherit' });
  const master = spawn(NGINX, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-g', 'daemon off;'], { stdio: 'inherit' });
  const exited = new Promise((resolve) => master.once('exit', resolve));
  // Ready when its worker is up and the page's port answers.
  for (let i = 0; ; i++) {
    if (childrenOf(master.pid).length > 0) {
      try {
        await fetch(`http://127.0.0.1:${redirectPort}/`, { redirect: 'manual' });
        break;
      } catch {}
    }
    if (i > 100 || master.exitCode !== null) throw new Error(`nginx did not start: ${readFileSync(join(dir, 'error.log'), 'utf8')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    page: `https://127.0.0.1:${pagePort}`,
    models: `https://127.0.0.1:${modelPort}`,
    redirect: `http://127.0.0.1:${redirectPort}`,
    password,
    ca: readFileSync(join(dir, 'cert.pem')),
    site,
    /** The access log so far: one object per request. */
    log() {
      let text = '';
      try {
        text = readFileSync(join(dir, 'access.log'), 'utf8');
      } catch {}
      return text.trim().split('\n').filter(Boolean).map((line) => {
        const [port, method, uri, args, status, range, auth, sent] = line.split(' ');
        return {
          port: Number(port), method, uri, args, status: Number(status),
          range: range.slice('range='.length), auth: auth.slice('auth='.length), sent: Number(sent.slice('sent='.length)),
        };
      });
    },
    /** nginx's worker processes now. */
    workers: () => childrenOf(master.pid),
    async close() {
      master.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
