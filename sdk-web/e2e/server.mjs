// The end-to-end harness's web server: serves the test page and the built package, and forwards
// /v1/* to the collector as a first-party proxy (same origin as the page, as many sites deploy it).
// On the way it can inject faults (a 429 with Retry-After, or an unreachable collector) and it
// counts, per messageId, the events the collector answered "ok" for.
//
// FOOTFALL_COLLECTOR_URL names the real collector (footfall-collector). Without it, the server
// answers batches itself: a STAND-IN that accepts everything, for machines without the collector.

import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const web = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const types = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm', '.json': 'application/json', '.css': 'text/css' };

/** Starts the server on a free port; `upstream` is the collector's origin, or null for the stand-in. */
export async function start({ upstream = process.env.FOOTFALL_COLLECTOR_URL || null, dirs = {} } = {}) {
  const mounts = { '/pkg/': path.join(web, 'pkg'), '/e2e/': path.join(web, 'e2e'), ...dirs };
  const state = {
    offline: false,
    faults: [],
    requests: [],
    delivered: new Map(),
  };
  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url, 'http://x');
    if (req.method === 'POST' && url.pathname.startsWith('/v1/')) {
      if (state.offline) return req.socket.destroy();
      const chunks = [];
      for await (const c of req) chunks.push(c);
      const body = Buffer.concat(chunks).toString();
      let messages = [];
      try {
        const parsed = JSON.parse(body);
        messages = parsed.batch || [parsed];
      } catch (_) {}
      const ids = messages.map((m) => m.messageId);
      const entry = { at: Date.now(), ids, events: messages.map((m) => m.event || m.type), mode: req.headers['sec-fetch-mode'], type: req.headers['content-type'], status: 0 };
      state.requests.push(entry);
      let status;
      let headers = { 'content-type': 'application/json' };
      let answer;
      const fault = state.faults.shift();
      if (fault) {
        status = fault.status;
        if (fault.retryAfter != null) headers['retry-after'] = String(fault.retryAfter);
        answer = JSON.stringify({ success: false, code: 'rate_limited', message: 'injected by the test' });
      } else if (upstream) {
        const r = await fetch(upstream + url.pathname, { method: 'POST', headers: { 'content-type': req.headers['content-type'] || 'text/plain' }, body });
        status = r.status;
        answer = await r.text();
        const retryAfter = r.headers.get('retry-after');
        if (retryAfter) headers['retry-after'] = retryAfter;
      } else {
        status = 200;
        answer = JSON.stringify({ success: true, results: ids.map((messageId) => ({ messageId, status: 'ok' })) });
      }
      entry.status = status;
      entry.retryAfter = headers['retry-after'];
      if (status >= 200 && status < 300) {
        let results = null;
        try {
          results = JSON.parse(answer).results;
        } catch (_) {}
        const ok = new Set(results ? results.filter((r) => r.status === 'ok').map((r) => r.messageId) : ids);
        for (const id of ids) if (ok.has(id)) state.delivered.set(id, (state.delivered.get(id) || 0) + 1);
      }
      res.writeHead(status, headers);
      return res.end(answer);
    }
    const mount = Object.keys(mounts).find((m) => url.pathname.startsWith(m));
    const file = mount && path.join(mounts[mount], url.pathname.slice(mount.length) || 'index.html');
    if (!file || !file.startsWith(mounts[mount]) || !fs.existsSync(file) || fs.statSync(file).isDirectory()) {
      res.writeHead(404);
      return res.end();
    }
    res.writeHead(200, { 'content-type': types[path.extname(file)] || 'application/octet-stream', 'cache-control': 'no-store' });
    fs.createReadStream(file).pipe(res);
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  const origin = `http://127.0.0.1:${server.address().port}`;
  return { origin, state, standIn: !upstream, close: () => new Promise((ok) => (server.closeAllConnections(), server.close(ok))) };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const s = await start();
  console.log(`serving ${web} on ${s.origin}${s.standIn ? ' (stand-in collector)' : ''}`);
}
