// Where track() spends its time: a CPU profile in headless Chromium, self time by function, for the
// bench-footfall.js bundle that budgets.sh builds. Bundle against an unstripped wasm (wasm-bindgen's
// output before wasm-opt) to see Rust function names. Note the profile runs until the first commit
// after the loop, so IndexedDB's put/delete show up too.
// Usage: node profile.mjs BUNDLE_DIR [CALLS] [FILL]   (FILL=1 fills the queue to 10,000 first)
import path from 'node:path';
import { chromium } from 'playwright-core';
import { start } from './server.mjs';
const [dir, n = '20000', full = '0'] = process.argv.slice(2);
const server = await start({ upstream: null, dirs: { '/bundles/': path.resolve(dir) } });
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
const page = await browser.newPage();
await page.goto(`${server.origin}/e2e/page.html?bench=1`).catch(() => {});
await page.evaluate(async () => { await import('/bundles/bench-footfall.js'); window.b = await window.bench; });
const cdp = await page.context().newCDPSession(page);
await cdp.send('Profiler.enable');
await cdp.send('Profiler.setSamplingInterval', { interval: 50 });
await page.evaluate((full) => { if (full === '1') for (let i = 0; i < 10000; i++) b.a._core.track('Clicked', '{"plan":"pro","i":1}'); }, full);
await cdp.send('Profiler.start');
const us = await page.evaluate((calls) => { const t0 = performance.now(); for (let i = 0; i < calls; i++) b.track(i); return ((performance.now() - t0) * 1000) / calls; }, Number(n));
const { profile } = await cdp.send('Profiler.stop');
// The commit after the loop (IndexedDB, the journal) and idle time are left out of the shares.
const skip = new Set(['put', 'delete', 'commit', '_commit', 'op', 'decode', 'decodeText', 'getStringFromWasm0', '(idle)', '(program)', '(garbage collector)', 'core_op']);
const self = new Map();
const byId = new Map(profile.nodes.map((x) => [x.id, x]));
const dt = profile.timeDeltas; let total = 0;
profile.samples.forEach((id, i) => { const node = byId.get(id); const k = node.callFrame.functionName || node.callFrame.url.split('/').pop() || '(anon)'; if (skip.has(k) || /take_op|to_text|codec::encode/.test(k)) return; self.set(k, (self.get(k) || 0) + dt[i]); total += dt[i]; });
console.log('per call µs', us.toFixed(2));
for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log((100 * v / total).toFixed(1).padStart(5) + '%', k.slice(0, 120));
await browser.close(); await server.close();
