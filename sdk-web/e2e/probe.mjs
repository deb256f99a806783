// Breaks footfall's track() time down (temporary probe, not part of the suite).
import path from 'node:path';
import { chromium } from 'playwright-core';
import { start } from './server.mjs';
const [dir, n = '10000'] = process.argv.slice(2);
const server = await start({ upstream: null, dirs: { '/bundles/': path.resolve(dir) } });
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
const page = await browser.newPage();
await page.route('https://collect.example/**', (r) => r.fulfill({ status: 200, body: '{"success":true}' }));
await page.goto(`${server.origin}/e2e/page.html?bench=1`).catch(() => {});
const r = await page.evaluate(async (calls) => {
  await import('/bundles/bench-footfall.js');
  const bench = await window.bench;
  const a = bench.a;
  const t = (f) => { const t0 = performance.now(); for (let i = 0; i < calls; i++) f(i); return ((performance.now() - t0) * 1000) / calls; };
  const out = {};
  out.warm = t((i) => bench.track(i));
  out.track = t((i) => bench.track(i));
  if (a) {
    const core = a._core;
    out.stat = t(() => core.stat(0));
    out.stringify = t((i) => JSON.stringify({ plan: 'pro', i }));
    out.coreTrack = t((i) => core.track('Clicked', '{"plan":"pro","i":1}'));
    out.coreTrackAfterPersist = (await bench.persist(), t((i) => core.track('Clicked', '{"plan":"pro","i":1}')));
  }
  return out;
}, Number(n));
console.log(JSON.stringify(r));
await browser.close();
await server.close();
