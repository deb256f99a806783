// Times track() in headless Chromium for Footfall (IndexedDB persistence on) and, measured the same
// way, for the JavaScript SDKs: 1,000 warm-up calls, then N calls timed with performance.now().
// Usage: node bench.mjs BUNDLE_DIR [N]   (BUNDLE_DIR holds bench-<sdk>.js bundles; see budgets.sh)

import path from 'node:path';
import { chromium } from 'playwright-core';
import { start } from './server.mjs';

const [dir, n = '10000'] = process.argv.slice(2);
const calls = Number(n);
const server = await start({ upstream: null, dirs: { '/bundles/': path.resolve(dir) } });
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'],
});
const results = {};
for (const sdk of ['footfall', 'posthog', 'segment', 'rudderstack', 'snowplow']) {
  const page = await browser.newPage();
  page.setDefaultTimeout(60000);
  process.stderr.write(`timing ${sdk}\n`);
  await page.route('https://collect.example/**', (r) => r.fulfill({ status: 200, body: '{"success":true}' }));
  await page.route('https://cdn.segment.com/**', (r) => r.fulfill({ status: 200, contentType: 'application/json', body: '{"integrations":{}}' }));
  await page.goto(`${server.origin}/e2e/page.html?bench=1`).catch(() => {});
  try {
    results[sdk] = await page.evaluate(
      async ({ sdk, calls }) => {
        await import(`/bundles/bench-${sdk}.js`);
        const bench = await Promise.race([window.bench, new Promise((_, no) => setTimeout(() => no(new Error('init did not finish in 15 s')), 15000))]);
        for (let i = 0; i < 1000; i++) bench.track(i);
        const t0 = performance.now();
        for (let i = 0; i < calls; i++) bench.track(i);
        const t1 = performance.now();
        if (bench.persist) await bench.persist();
        const t2 = performance.now();
        return { perCallUs: ((t1 - t0) * 1000) / calls, persistMs: t2 - t1 };
      },
      { sdk, calls },
    );
  } catch (e) {
    results[sdk] = { error: String(e).split('\n')[0] };
  }
  await page.close();
}
await browser.close();
await server.close();
console.log(JSON.stringify(results));
