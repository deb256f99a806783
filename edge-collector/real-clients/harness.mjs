// What the real-client tests share: the page script bundled with esbuild (in memory), the app's own
// page server, a proxy sink that keeps the page off the network, the collector's live-events stream,
// and a fresh headless Chromium (Debian's, driven by playwright-core) that records what the page asks
// of the collector and of anyone else. analytics-next.test.mjs and rudderstack.test.mjs use it.

import assert from 'node:assert/strict';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'];
export const WRITE_KEY = 'wk_e2e';
export const PROJECT = 'shop';

export const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run scripts/test.d/25-real-clients.sh, or start footfall-collector with --write-key ${WRITE_KEY}=${PROJECT}/web --live-events-token <token> and set FOOTFALL_COLLECTOR_URL and FOOTFALL_LIVE_EVENTS_TOKEN`);
  return value;
};

// The page script: `entry` (a file of this folder) and the SDK it imports bundled for the browser, in
// memory, once per entry.
const bundles = new Map();
export const bundle = (entry) => {
  if (!bundles.has(entry)) bundles.set(entry, build(entry));
  return bundles.get(entry);
};
const build = async (entry) => {
  const result = await esbuild.build({
    entryPoints: [path.join(here, entry)],
    bundle: true,
    write: false,
    format: 'iife',
    platform: 'browser',
    target: 'chrome120',
    define: { 'process.env.NODE_ENV': '"production"' },
    logLevel: 'silent',
  });
  await esbuild.stop();
  return result.outputFiles[0].contents;
};

const pageHTML = (title, scriptPath) => `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title><link rel="icon" href="data:,"></head><body><h1>Shop</h1><script src="${scriptPath}"></script></body></html>`;

// The app's own origin, on another port than the collector: every request the SDK makes to the
// collector is cross-origin (CORS).
export const servePage = async ({ title, scriptPath, script }) => {
  const html = pageHTML(title, scriptPath);
  const server = http.createServer((req, res) => {
    const { pathname } = new URL(req.url, 'http://x');
    if (pathname === '/' || pathname === '/index.html') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(html);
    } else if (pathname === scriptPath) {
      res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' }).end(script);
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${server.address().port}`;
  const close = () => new Promise((resolve) => {
    server.closeAllConnections();
    server.close(resolve);
  });
  return { origin, close };
};

// Where Chromium's proxy points: it records each request and refuses it (403), so that nothing meant
// for another host (api.segment.io, cdn.rudderlabs.com, ...) leaves the machine. Playwright's
// context.route would block requests too, but while any route is set Playwright answers every CORS
// preflight itself, allowing everything: the collector's CORS would go untested.
export const proxySink = async () => {
  const requests = [];
  const server = http.createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    res.writeHead(403).end();
  });
  server.on('connect', (req, socket) => {
    requests.push(`CONNECT ${req.url}`);
    socket.end('HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n');
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const close = () => new Promise((resolve) => {
    server.closeAllConnections();
    server.close(resolve);
  });
  return { url: `http://127.0.0.1:${server.address().port}`, requests, close };
};

// The collector's live-events stream (Server-Sent Events): every record it stores, as it stores it.
// Resolves once the collector answered, so that nothing stored afterwards is missed.
export const watchLiveEvents = async (collector, token) => {
  const abort = new AbortController();
  const res = await fetch(`${collector}/live-events`, { headers: { authorization: `Bearer ${token}` }, signal: abort.signal });
  if (res.status !== 200) {
    abort.abort();
    assert.fail(`GET ${collector}/live-events answered ${res.status}: ${await res.text().catch(() => '')}`);
  }
  const records = [];
  const done = (async () => {
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    for (;;) {
      const { value, done: end } = await reader.read();
      if (end) return;
      buffer += value.replace(/\r\n?/g, '\n');
      let cut;
      while ((cut = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        let event = 'message';
        const data = [];
        for (const line of block.split('\n')) {
          if (line === '' || line.startsWith(':')) continue;
          const colon = line.indexOf(':');
          const field = colon < 0 ? line : line.slice(0, colon);
          const val = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
          if (field === 'event') event = val;
          else if (field === 'data') data.push(val);
        }
        if (data.length) records.push({ event, data: JSON.parse(data.join('\n')) });
      }
    }
  })().catch((err) => {
    if (err.name !== 'AbortError') throw err;
  });
  return { records, close: async () => { abort.abort(); await done; } };
};

export const until = async (what, check, ms, detail = () => '') => {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out after ${ms} ms waiting for ${what}${detail()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};

// Opens the shop page (titled `title`, its script `entry` bundled and served at `scriptPath`) in a
// fresh Chromium, recording what goes where: the requests to the collector (with their answers),
// anything asked of another host, the console errors, and the collector's live events. All of it is
// closed when `t` ends, however it ends (a timeout included). The SDK is not loaded yet: the test
// drives what `entry` put on `window`.
export const openPage = async (t, { collector, token, entry, title, scriptPath }) => {
  const cleanups = [];
  t.after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch((err) => console.error('cleanup:', err));
  });
  const site = await servePage({ title, scriptPath, script: await bundle(entry) });
  cleanups.push(() => site.close());
  const live = await watchLiveEvents(collector, token);
  cleanups.push(() => live.close());
  const sink = await proxySink();
  cleanups.push(() => sink.close());
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: CHROMIUM_ARGS });
  cleanups.push(() => browser.close());
  // The page's network goes through the sink, loopback (the page server and the collector) excepted:
  // those are reached directly, CORS preflights included. (The proxy is the context's, not the
  // browser's: Chromium's own traffic, such as its component updater, is not the page's doing.)
  const context = await browser.newContext({ proxy: { server: sink.url, bypass: '127.0.0.1,localhost,[::1]' } });
  // What pages ask for anywhere but the page server and the collector (with the method and the full
  // URL, which the sink does not see of an https request).
  const allowed = new Set([site.origin, collector]);
  const elsewhere = [];
  context.on('request', (r) => allowed.has(new URL(r.url()).origin) || elsewhere.push(`${r.method()} ${r.url()}`));

  const page = await context.newPage();
  // The page's requests to the collector, in order, each with its answer or failure. (Playwright does
  // not report CORS preflights; a refused preflight shows as the request's failure.)
  const toCollector = [];
  const entries = new Map();
  page.on('request', (r) => {
    if (!r.url().startsWith(collector + '/')) return;
    const url = new URL(r.url());
    const entry = { method: r.method(), path: url.pathname, search: url.search, headers: r.headers(), body: r.postData(), response: null, failure: null };
    toCollector.push(entry);
    entries.set(r, entry);
  });
  page.on('response', (r) => {
    const entry = entries.get(r.request());
    if (entry) entry.response = { status: r.status(), headers: r.headers() };
  });
  page.on('requestfailed', (r) => {
    const entry = entries.get(r);
    if (entry) entry.failure = r.failure()?.errorText ?? 'failed';
  });
  const consoleErrors = [];
  page.on('console', (m) => m.type() === 'error' && consoleErrors.push(`console.error: ${m.text()}`));
  page.on('pageerror', (e) => consoleErrors.push(`pageerror: ${e.message}`));

  await page.goto(`${site.origin}/`);
  const requests = () => JSON.stringify(toCollector.map((e) => [e.method, e.path, e.response?.status ?? e.failure]));
  return { site, page, live, sink, elsewhere, toCollector, consoleErrors, requests };
};
