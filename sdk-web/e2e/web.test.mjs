// End-to-end tests of the built package (sdk-web/pkg) in headless Chromium, driven by Playwright,
// against the collector behind server.mjs. Run: `node --test sdk-web/e2e/` after scripts/build.sh,
// with FOOTFALL_COLLECTOR_URL set to a running footfall-collector (else a stand-in answers).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { start } from './server.mjs';

const web = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const fileFor = (p) => path.join(web, p.split('?')[0]);

const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'];

let server;
let browser;

before(async () => {
  server = await start({ dirs: { '/shop/': path.join(web, '..', 'examples', 'web') } });
  if (server.standIn) console.log('# NOTE: no FOOTFALL_COLLECTOR_URL: batches are answered by the stand-in in server.mjs');
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: CHROMIUM_ARGS });
});

after(async () => {
  await browser?.close();
  await server?.close();
});

let dbCounter = 0;
const open = async (context, query = {}) => {
  const page = await context.newPage();
  await page.goto(`${server.origin}/e2e/page.html?${new URLSearchParams(query)}`);
  await page.waitForFunction(() => window.ffReady === true);
  return page;
};

const until = async (what, check, ms = 20000) => {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
};

const deliveredOnce = (ids) => ids.every((id) => server.state.delivered.get(id) === 1);

test('events tracked offline survive a reload and arrive exactly once when back online', async () => {
  const context = await browser.newContext();
  const db = `offline-${Date.now()}-${dbCounter++}`;
  let page = await open(context, { db, autoPage: 'false' });
  // Offline as the page sees it (navigator.onLine, so nothing goes by beacon) and as the network is.
  server.state.offline = true;
  await context.setOffline(true);
  const ids = await page.evaluate(() => {
    const out = [];
    for (let i = 0; i < 5; i++) out.push(ff.track('Offline Click', { i }));
    return ff.persist().then(() => out);
  });
  assert.equal(ids.length, 5);
  // Reload while still offline: the page and the package come from the browser's side (as from a
  // service worker or cache), so the queue can only come back from IndexedDB.
  await context.route(
    (url) => !url.pathname.startsWith('/v1/'),
    (route) => route.fulfill({ path: fileFor(new URL(route.request().url()).pathname) }),
  );
  await page.reload();
  await page.waitForFunction(() => window.ffReady === true);
  assert.equal(await page.evaluate(() => navigator.onLine), false, 'reloaded while offline');
  assert.equal(await page.evaluate(() => ff.stats().queued), 5, 'the queue survived the reload');
  await page.evaluate(() => ff.flush());
  assert.equal(ids.filter((id) => server.state.delivered.has(id)).length, 0, 'nothing arrives while offline');
  await context.unrouteAll();
  server.state.offline = false;
  await context.setOffline(false);
  await page.evaluate(() => ff.flush());
  await until('all five events', () => deliveredOnce(ids), 30000);
  await page.evaluate(() => ff.flush());
  await new Promise((r) => setTimeout(r, 500));
  assert.ok(deliveredOnce(ids), 'each event exactly once: ' + JSON.stringify(ids.map((id) => server.state.delivered.get(id))));
  await context.close();
});

test('an event tracked right before the tab closes arrives by beacon', async () => {
  const context = await browser.newContext();
  const page = await open(context, { db: `close-${Date.now()}-${dbCounter++}`, autoPage: 'false' });
  const before = server.state.requests.length;
  const id = await page.evaluate(() => ff.track('Last Click', { at: 'close' }));
  await page.close({ runBeforeUnload: true });
  await until('the beacon', () => server.state.delivered.has(id), 10000);
  const carrying = server.state.requests.slice(before).filter((r) => r.ids.includes(id));
  assert.equal(carrying.length, 1, 'one request carried it');
  assert.equal(carrying[0].mode, 'no-cors', 'sent by sendBeacon (a CORS-simple no-cors request)');
  assert.match(carrying[0].type, /^text\/plain/);
  assert.equal(server.state.delivered.get(id), 1);
  await context.close();
});

test('a 429 with Retry-After is honoured before the batch is sent again', async () => {
  const context = await browser.newContext();
  const page = await open(context, { db: `throttle-${Date.now()}-${dbCounter++}`, autoPage: 'false', flushAt: '1' });
  server.state.faults.push({ status: 429, retryAfter: 2 });
  const before = server.state.requests.length;
  const id = await page.evaluate(() => ff.track('Throttled Click'));
  await until('the retry', () => server.state.delivered.has(id), 15000);
  const attempts = server.state.requests.slice(before).filter((r) => r.ids.includes(id));
  assert.equal(attempts.length, 2, 'one throttled attempt, one retry');
  assert.equal(attempts[0].status, 429);
  const gap = attempts[1].at - attempts[0].at;
  assert.ok(gap >= 1900, `the retry waited Retry-After (2 s), not ${gap} ms`);
  assert.equal(server.state.delivered.get(id), 1);
  await context.close();
});

test('page views are automatic, follow SPA navigation, and carry UTM and referrer context', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const db = `pages-${Date.now()}-${dbCounter++}`;
  await page.goto(`${server.origin}/e2e/page.html?db=${db}&utm_source=news&utm_campaign=winter`);
  await page.waitForFunction(() => window.ffReady === true);
  await page.evaluate(() => history.pushState({}, '', '/e2e/page.html?db=x&step=2'));
  const session = await page.evaluate(() => ff.sessionId);
  const before = server.state.requests.length;
  const bodies = [];
  page.on('request', (r) => r.url().endsWith('/v1/batch') && bodies.push(r.postData()));
  await page.evaluate(() => ff.flush());
  await until('the page views', () => server.state.requests.length > before);
  const batch = JSON.parse(bodies[0]).batch;
  const pages = batch.filter((m) => m.type === 'page');
  assert.equal(pages.length, 2, 'the landing page and one SPA navigation');
  assert.deepEqual(pages[0].context.campaign, { source: 'news', name: 'winter' });
  assert.equal(pages[1].properties.search, '?db=x&step=2');
  assert.match(pages[1].properties.referrer, /utm_source=news/);
  assert.equal(pages[0].context.sessionId, session);
  // A second tab joins the same session.
  const second = await open(context, { db });
  assert.equal(await second.evaluate(() => ff.sessionId), session, 'one session across tabs');
  await context.close();
});

test('opting out stops recording and empties the queue; opting in resumes', async () => {
  const context = await browser.newContext();
  const page = await open(context, { db: `consent-${Date.now()}-${dbCounter++}`, autoPage: 'false' });
  const result = await page.evaluate(() => {
    ff.track('Before');
    ff.optOut();
    const during = ff.track('During');
    const queuedWhileOut = ff.stats().queued;
    ff.optIn();
    const after = ff.track('After');
    return { during, queuedWhileOut, after, queued: ff.stats().queued };
  });
  assert.equal(result.during, undefined);
  assert.equal(result.queuedWhileOut, 0);
  assert.ok(result.after);
  assert.equal(result.queued, 1);
  await context.close();
});

test('the demo shop records its page view and cart events', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const before = server.state.requests.length;
  await page.goto(`${server.origin}/shop/index.html?writeKey=wk_e2e`);
  await page.click('button[data-id="p-2"]');
  await page.click('a[data-view="cart"]');
  await page.click('#checkout');
  await page.close({ runBeforeUnload: true });
  const events = () => server.state.requests.slice(before).flatMap((r) => (r.status === 200 ? r.events : []));
  await until('the shop events', () => events().includes('Order Completed'), 10000);
  assert.deepEqual(events(), ['page', 'Product Added', 'page', 'Order Completed']);
  await context.close();
});

// Needs a second collector with a rate limit: FOOTFALL_COLLECTOR_LIMITED_URL (test.d/20-web.sh starts one
// with --rate-limit-events-per-sec 1 --rate-limit-burst 2).
const limited = process.env.FOOTFALL_COLLECTOR_LIMITED_URL;
test('the collector\'s own rate limit (429 + Retry-After) is honoured', { skip: !limited && 'no FOOTFALL_COLLECTOR_LIMITED_URL' }, async () => {
  const throttled = await start({ upstream: limited });
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${throttled.origin}/e2e/page.html?db=limited-${Date.now()}&autoPage=false&flushAt=2`);
  await page.waitForFunction(() => window.ffReady === true);
  const ids = [];
  for (let round = 0; round < 3; round++) {
    ids.push(...(await page.evaluate(() => [ff.track('Limited', { n: 1 }), ff.track('Limited', { n: 2 })])));
  }
  await until('every event', () => ids.every((id) => throttled.state.delivered.get(id) === 1), 30000);
  const requests = throttled.state.requests;
  const limitedAt = requests.findIndex((r) => r.status === 429);
  assert.ok(limitedAt >= 0, 'the collector rate-limited a batch: ' + JSON.stringify(requests.map((r) => r.status)));
  const answer = requests[limitedAt];
  assert.ok(answer.retryAfter, 'with Retry-After');
  const retry = requests.slice(limitedAt + 1).find((r) => r.ids.includes(answer.ids[0]));
  const gap = retry.at - answer.at;
  assert.ok(gap >= Number(answer.retryAfter) * 1000 - 100, `the retry waited Retry-After (${answer.retryAfter} s), not ${gap} ms`);
  assert.ok(ids.every((id) => throttled.state.delivered.get(id) === 1), 'each event exactly once');
  await context.close();
  await throttled.close();
});

test('identify, group, alias, page and reset record what analytics.js would', async () => {
  const context = await browser.newContext();
  const page = await open(context, { db: `calls-${Date.now()}-${dbCounter++}`, autoPage: 'false' });
  const bodies = [];
  page.on('request', (r) => r.url().endsWith('/v1/batch') && bodies.push(JSON.parse(r.postData())));
  const anon = await page.evaluate(async () => {
    const before = ff.anonymousId;
    ff.identify('user-7', { plan: 'pro' });
    ff.group('acme', { seats: 5 });
    ff.alias('user-8');
    ff.page('Docs', 'Install', { section: 'npm' });
    ff.page('Pricing');
    ff.track('Clicked');
    await ff.flush();
    ff.reset();
    return { before, after: ff.anonymousId, user: ff.userId };
  });
  assert.notEqual(anon.after, anon.before, 'reset gives a new anonymous id');
  assert.equal(anon.user, undefined, 'reset forgets the user');
  const batch = bodies.flatMap((b) => b.batch);
  assert.equal(bodies[0].writeKey, 'wk_e2e');
  const [identify, group, alias, docs, pricing, track] = batch;
  assert.deepEqual([identify.type, identify.userId, identify.traits], ['identify', 'user-7', { plan: 'pro' }]);
  assert.deepEqual([group.type, group.groupId, group.traits], ['group', 'acme', { seats: 5 }]);
  assert.deepEqual([alias.type, alias.userId, alias.previousId], ['alias', 'user-8', 'user-7']);
  assert.deepEqual([docs.type, docs.category, docs.name, docs.properties.section], ['page', 'Docs', 'Install', 'npm']);
  assert.deepEqual([pricing.name, pricing.category], ['Pricing', undefined]);
  assert.deepEqual([track.event, track.userId, track.anonymousId], ['Clicked', 'user-8', anon.before]);
  assert.equal(track.context.library.name, 'footfall-web');
  assert.ok(track.context.sessionId);
  await context.close();
});
