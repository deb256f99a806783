// Opens the demo shop as built by Vite and by webpack (sdk-web/scripts/check-bundlers.sh) in headless
// Chromium and checks that the SDK loaded its wasm and opened its IndexedDB queue.
// Usage: node bundled.mjs NAME=DIR...
import { chromium } from 'playwright-core';
import { start } from './server.mjs';

const dirs = Object.fromEntries(process.argv.slice(2).map((a) => a.split('=')).map(([n, d]) => [`/${n}/`, d]));
const server = await start({ upstream: null, dirs });
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'],
});
let failed = false;
for (const name of Object.keys(dirs)) {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${server.origin}${name}index.html`);
  try {
    await page.waitForFunction(() => document.getElementById('status').textContent.includes('"storage": "indexeddb"'), null, { timeout: 15000 });
    console.log(`${name}: the SDK runs (IndexedDB queue open)`);
  } catch (e) {
    failed = true;
    console.error(`${name}: the SDK did not start: ${errors.join('; ') || e}`);
  }
  await page.close();
}
await browser.close();
await server.close();
process.exit(failed ? 1 : 0);
