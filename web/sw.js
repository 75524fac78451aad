// RoentGen Web's service worker: the page works offline once it has been
// loaded. Every file of one build is kept in a cache named by that build
// (BUILD and FILES are filled in by scripts/service-worker.sh, a Trunk
// post-build hook, from the build's own files), and a page is served wholly
// from one build's cache, so an old page never mixes with a new build's
// files (the worker's files keep their names from build to build). A new
// build installs beside the old one and waits; the page offers a reload,
// which activates it and drops the old cache.
//
// Model files: the shards are kept by the page itself (OPFS or Cache
// Storage, by sha256). A model's manifest.json and tokenizer.json are
// fetched from the network when it answers and kept here for when it does
// not; requests carrying credentials (a gated host) are never kept.
const BUILD = '__BUILD__';
const FILES = __FILES__;
const PAGE_CACHE = 'roentgen-page-' + BUILD;
const MODEL_FILES = 'roentgen-model-files';

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(PAGE_CACHE).then((cache) => cache.addAll(['./', ...FILES])));
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith('roentgen-page-') && name !== PAGE_CACHE) await caches.delete(name);
    }
    await self.clients.claim();
  })());
});

self.addEventListener('message', (event) => {
  if (event.data === 'activate-new-build') self.skipWaiting();
  if (event.data === 'build') event.source?.postMessage({ build: BUILD });
});

const scope = new URL(self.registration.scope);

/** The page's own file this URL names, if any ('./' for the page itself). */
function pageFile(url) {
  if (url.origin !== scope.origin || !url.pathname.startsWith(scope.pathname)) return null;
  const rest = url.pathname.slice(scope.pathname.length);
  if (rest === '' || rest === 'index.html') return './';
  return FILES.includes(rest) ? rest : null;
}

self.addEventListener('fetch', (event) => {
  const request = event.request;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  const file = pageFile(url);
  if (file) {
    event.respondWith((async () => {
      const cache = await caches.open(PAGE_CACHE);
      return (await cache.match(file)) ?? fetch(request);
    })());
    return;
  }
  const name = url.pathname.split('/').pop();
  if ((name === 'manifest.json' || name === 'tokenizer.json') && !request.headers.has('Authorization')
      && request.credentials !== 'include') {
    event.respondWith((async () => {
      const cache = await caches.open(MODEL_FILES);
      try {
        const response = await fetch(request);
        if (response.ok) await cache.put(request, response.clone());
        return response;
      } catch (offline) {
        const kept = await cache.match(request);
        if (kept) return kept;
        throw offline;
      }
    })());
  }
});
