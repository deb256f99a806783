// RudderStack's JavaScript SDK, @rudderstack/analytics-js from npm (its `bundled` build, every plugin
// inside), against footfall-collector, in headless Chromium driven by playwright-core. The app sets the
// data plane URL and the control plane (`configUrl`) to the collector:
// `rudderanalytics.load(writeKey, collectorURL, { configUrl: collectorURL })`. The SDK must take its
// source config from the collector, send page/track/identify there, and nothing anywhere else. Run:
// `node --test edge-collector/real-clients/` with FOOTFALL_COLLECTOR_URL and FOOTFALL_LIVE_EVENTS_TOKEN
// (and FOOTFALL_COLLECTOR_LIMITED_URL for the retries); scripts/test.d/25-real-clients.sh does all of it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { WRITE_KEY, PROJECT, env, openPage, until } from './harness.mjs';

// (Its package.json is not among the package's exports: read from node_modules.)
const RUDDERSTACK_VERSION = JSON.parse(readFileSync(new URL('./node_modules/@rudderstack/analytics-js/package.json', import.meta.url))).version;
const TITLE = 'rudderstack e2e';
// Basic auth as the SDK sends it: the write key as the user, no password.
const AUTHORIZATION = `Basic ${btoa(`${WRITE_KEY}:`)}`;

// Opens the shop page in a fresh Chromium (harness.mjs: the page script is rudderstack-entry.mjs and
// the SDK, bundled) and loads the SDK there with the data plane and configUrl = collector, recording
// what goes where. All of it is closed when `t` ends.
const openShop = async (t, collector, token) => {
  const shop = await openPage(t, { collector, token, entry: 'rudderstack-entry.mjs', title: TITLE, scriptPath: '/rudderstack.js' });
  // Every console message (the harness keeps only the errors), to tell what the SDK logged.
  const consoleAll = [];
  shop.page.on('console', (m) => consoleAll.push(`${m.type()}: ${m.text()}`));
  const loaded = await shop.page.evaluate(([writeKey, url]) => window.loadRudderStack(writeKey, url, url), [WRITE_KEY, collector]).catch((err) =>
    assert.fail(`the SDK did not load: ${err.message}; requests: ${shop.requests()}; console: ${JSON.stringify(consoleAll)}; elsewhere: ${JSON.stringify(shop.elsewhere)}`));
  t.diagnostic(`@rudderstack/analytics-js ${RUDDERSTACK_VERSION} (bundled); plugins: ${loaded.loadedPlugins.join(', ')}; source config URL: ${loaded.sourceConfigUrl}`);
  return { ...shop, consoleAll, loaded };
};

test('RudderStack with the data plane and configUrl set to the collector loads its source config from it and sends it page, track and identify', { timeout: 60_000 }, async (t) => {
  const collector = new URL(env('FOOTFALL_COLLECTOR_URL')).origin;
  const { site, page, live, sink, elsewhere, toCollector, consoleErrors, consoleAll, loaded, requests } = await openShop(t, collector, env('FOOTFALL_LIVE_EVENTS_TOKEN'));

  // 1. The source config came from the collector: GET <configUrl>/sourceConfig/ with the SDK's build
  // in the query and the write key both there and as Basic auth, answered 200; the SDK took the
  // source from it (it keeps id, name, workspaceId and config) and is ready.
  const configs = toCollector.filter((e) => e.path === '/sourceConfig/');
  assert.equal(configs.length, 1, `one source config request to the collector: ${JSON.stringify(toCollector.map((e) => `${e.method} ${e.path}`))}`);
  const [config] = configs;
  assert.equal(config.method, 'GET');
  assert.deepEqual(Object.fromEntries(new URLSearchParams(config.search)),
    { p: 'npm', v: RUDDERSTACK_VERSION, build: 'modern', writeKey: WRITE_KEY, lockIntegrationsVersion: 'true', lockPluginsVersion: 'true' }, 'the source config query');
  assert.equal(config.headers.authorization, AUTHORIZATION);
  assert.equal(config.failure, null, 'the source config request did not fail');
  assert.equal(config.response?.status, 200, 'the collector answered the source config request with 200');
  assert.equal(loaded.sourceConfigUrl, `${collector}/sourceConfig/${config.search}`);
  assert.deepEqual(loaded.source, { id: 'web', name: 'web', workspaceId: PROJECT, config: { statsCollection: { errors: { enabled: false }, metrics: { enabled: false } } } }, 'the source the SDK took from the collector');
  assert.equal(loaded.dataPlaneUrl, collector);
  // The bundled build's plugins, none fetched (XhrQueue delivers the events; no destination, so no
  // device-mode plugin or integration SDK).
  assert.deepEqual(loaded.loadedPlugins, ['ExternalAnonymousId', 'GoogleLinker', 'StorageEncryption', 'StorageMigrator', 'XhrQueue']);

  const calls = await page.evaluate(() => window.appCalls());
  for (const name of ['page', 'track', 'identify']) assert.match(calls[name].messageId ?? '', /^[0-9a-f-]{36}$/, `${name}: a messageId`);

  // 2. The collector stored the three events, as the SDK sent them.
  const accepted = () => live.records.filter((r) => r.event === 'accepted' && r.data.context?.footfall?.projectId === PROJECT);
  await until('three accepted events on /live-events', () => accepted().length >= 3, 20_000, () => `; records: ${JSON.stringify(live.records)}; requests: ${requests()}`);
  await new Promise((r) => setTimeout(r, 300)); // anything more (a retry, a drop) would show up now
  assert.deepEqual(accepted().map((r) => r.data.type).sort(), ['identify', 'page', 'track'], 'exactly page, track, identify, stored once each');
  assert.deepEqual(live.records.filter((r) => r.event !== 'accepted'), [], 'nothing dropped');
  const { page: pageview, track, identify } = Object.fromEntries(accepted().map((r) => [r.data.type, r.data]));
  assert.equal(pageview.properties.url, `${site.origin}/`);
  assert.equal(pageview.properties.path, '/');
  assert.equal(pageview.properties.title, TITLE);
  assert.equal(track.event, 'Order Completed');
  assert.deepEqual(track.properties, { revenue: 42.5, currency: 'EUR' });
  assert.equal(identify.userId, 'user-1');
  // The SDK sends identify's traits in context.traits only (no top-level traits), and context.traits
  // on every event (empty before identify).
  assert.deepEqual(identify.context.traits, { plan: 'pro' }, 'identify: the traits, in context.traits');
  assert.equal('traits' in identify, false, 'identify: no top-level traits');
  assert.deepEqual(pageview.context.traits, {});
  assert.deepEqual(track.context.traits, {});
  // Before identify, the SDK sends userId as an empty string (not absent), and the collector keeps it.
  assert.equal(pageview.userId, '', 'page: userId ""');
  assert.equal(track.userId, '', 'track: userId ""');
  const anonymousId = loaded.anonymousId;
  assert.match(anonymousId ?? '', /^[0-9a-f-]{36}$/, 'a UUID anonymousId');
  for (const event of [pageview, track, identify]) {
    assert.deepEqual(event.context.library, { name: 'RudderLabs JavaScript SDK', version: RUDDERSTACK_VERSION, variant: 'bundled' }, `${event.type}: context.library`);
    assert.equal(event.channel, 'web', `${event.type}: channel`);
    assert.equal(event.context.footfall.projectId, PROJECT, `${event.type}: context.footfall.projectId`);
    assert.equal(event.anonymousId, anonymousId, `${event.type}: the SDK's anonymousId`);
    assert.equal(event.messageId, calls[event.type].messageId, `${event.type}: the messageId the SDK gave it`);
    assert.ok(event.originalTimestamp && event.sentAt && event.receivedAt, `${event.type}: originalTimestamp, sentAt, receivedAt`);
  }
  // How it was sent: one POST per event to <dataPlaneUrl>/v1/<type>, JSON (not CORS-safe, nor are the
  // Authorization, AnonymousId and SentAt headers: each POST needed the collector's preflight), the
  // write key only as Basic auth, the anonymousId base64-encoded in the AnonymousId header.
  const posts = toCollector.filter((e) => e.method === 'POST');
  assert.deepEqual(posts.map((e) => [e.path, e.response?.status, e.failure]), [['/v1/page', 200, null], ['/v1/track', 200, null], ['/v1/identify', 200, null]]);
  for (const post of posts) {
    const body = JSON.parse(post.body);
    assert.equal(post.headers['content-type'], 'application/json;charset=UTF-8');
    assert.equal(post.headers.authorization, AUTHORIZATION);
    assert.equal(post.headers.anonymousid, btoa(anonymousId));
    assert.equal(post.headers.sentat, body.sentAt);
    assert.equal('writeKey' in body, false, 'no write key in the body');
  }
  t.diagnostic(`sent: POST ${posts.map((e) => e.path).join(', ')}; headers of ${posts[1].path}: ${JSON.stringify(posts[1].headers)}`);
  t.diagnostic(`track body: ${posts[1].body}`);
  t.diagnostic(`identify body: ${posts[2].body}`);

  // 3. Nothing went anywhere else: no plugin or integration from cdn.rudderlabs.com, no source config
  // from api.rudderstack.com, no metrics or errors to <dataPlaneUrl>/rsaMetrics (the source config turns
  // statsCollection off) nor anywhere else.
  assert.deepEqual(toCollector.map((e) => `${e.method} ${e.path}`), ['GET /sourceConfig/', 'POST /v1/page', 'POST /v1/track', 'POST /v1/identify'], 'nothing else asked of the collector');
  assert.deepEqual(elsewhere, [], 'no request to any host but the page server and the collector');
  assert.deepEqual(sink.requests, [], 'nothing reached the network but the page server and the collector');

  // 4. No errors on the page (nor warnings from the SDK).
  assert.deepEqual(consoleErrors, [], 'no console errors or uncaught exceptions');
  assert.deepEqual(consoleAll, [], 'nothing logged at all');
});

// The SDK (its XhrQueue plugin) retries an event the collector answered 429, 5xx or not at all
// (isErrRetryable: any status but 4xx, 429 included), with its own backoff: minRetryDelay 1 s ×
// 2^attempt, no jitter (2 s, 4 s, 8 s, ...; at most 360 s; 10 attempts), whatever the collector's
// Retry-After or X-RateLimit-Reset say, which it does not read. Each retry carries Rsa-Retry-Attempt,
// Rsa-Retry-Reason, Rsa-Since-Last-Attempt and Rsa-Since-First-Attempt, none CORS-safe: the collector's
// preflight must allow them. Needs a second collector with a rate limit, FOOTFALL_COLLECTOR_LIMITED_URL
// (test.d/25-real-clients.sh starts one with --rate-limit-events-per-sec 1 --rate-limit-burst 1), with
// the same live-events token. Takes about 6 s: the page view goes through on the burst, the track and
// the identify get 429; both are retried 2 s later, one gets through; the other, 4 s after that.
const limited = process.env.FOOTFALL_COLLECTOR_LIMITED_URL;
test('an event the collector rate-limited (429) is retried by RudderStack and stored once', { timeout: 60_000, skip: !limited && 'no FOOTFALL_COLLECTOR_LIMITED_URL' }, async (t) => {
  const collector = new URL(limited).origin;
  const { page, live, toCollector, consoleErrors, requests } = await openShop(t, collector, env('FOOTFALL_LIVE_EVENTS_TOKEN'));
  const calls = await page.evaluate(() => window.appCalls());
  const ids = Object.values(calls).map((c) => c.messageId);
  const stored = () => live.records.filter((r) => r.event === 'accepted' && ids.includes(r.data.messageId)).map((r) => r.data.messageId);
  const posts = () => toCollector.filter((e) => e.method === 'POST');
  const throttled = () => posts().filter((e) => e.response?.status === 429);
  const retries = () => posts().filter((e) => 'rsa-retry-attempt' in e.headers);
  const retryInfo = () => JSON.stringify(retries().map((e) => [e.path, e.headers['rsa-retry-attempt'], e.headers['rsa-retry-reason'], e.headers['rsa-since-last-attempt'], e.response?.status ?? e.failure]));
  await until('a 429 from the collector', () => throttled().length > 0, 10_000, () => `; requests: ${requests()}`);
  await until('a retry', () => retries().length > 0, 10_000, () => `; requests: ${requests()}`);
  const blocked = () => consoleErrors.filter((e) => /CORS/.test(e));
  await until('the three events stored (or a request blocked by CORS)', () => ids.every((id) => stored().includes(id)) || blocked().length > 0, 25_000,
    () => `; requests: ${requests()}; console errors: ${JSON.stringify(consoleErrors, null, 1)}`);
  assert.deepEqual(blocked(), [], `no request blocked by CORS; the retries (path, Rsa-Retry-Attempt, Rsa-Retry-Reason, Rsa-Since-Last-Attempt, answer): ${retryInfo()}`);
  await new Promise((r) => setTimeout(r, 500));
  assert.deepEqual(stored().sort(), [...ids].sort(), 'each stored once');
  t.diagnostic(`requests: ${requests()}; retries (path, Rsa-Retry-Attempt, Rsa-Retry-Reason, Rsa-Since-Last-Attempt, answer): ${retryInfo()}`);

  // Every POST was answered (none blocked or failed), 200 or 429; the first try of each event carries
  // no retry header, the n-th retry Rsa-Retry-Attempt n after the SDK's backoff (1 s × 2^n, not the
  // collector's Retry-After of 1 s).
  assert.deepEqual(posts().filter((e) => ![200, 429].includes(e.response?.status)).map((e) => [e.path, e.response?.status ?? e.failure]), [], 'every POST answered 200 or 429');
  const byEvent = new Map();
  for (const post of posts()) {
    const id = JSON.parse(post.body).messageId;
    byEvent.set(id, [...(byEvent.get(id) ?? []), post]);
  }
  assert.deepEqual([...byEvent.keys()].sort(), [...ids].sort());
  for (const [id, attempts] of byEvent) {
    assert.deepEqual(attempts.map((e) => e.response.status), [...attempts.slice(0, -1).map(() => 429), 200], `${id}: 429 until the last try, which got 200`);
    attempts.forEach((post, n) => {
      if (n === 0) {
        assert.equal('rsa-retry-attempt' in post.headers, false, `${id}: no retry header on the first try`);
        return;
      }
      assert.equal(post.headers['rsa-retry-attempt'], String(n), `${id}: Rsa-Retry-Attempt on retry ${n}`);
      assert.ok(Number(post.headers['rsa-since-last-attempt']) >= 1000 * 2 ** n - 50, `${id}: retry ${n} after the SDK's backoff of ${1000 * 2 ** n} ms (Rsa-Since-Last-Attempt ${post.headers['rsa-since-last-attempt']})`);
      // The SDK computes `server-429` as the reason but drops it on the way (RetryQueue.processHead
      // does not copy the requeued item's retryReason into its in-progress entry, so it falls back to
      // the default): 3.34.1 says `client-network`.
      assert.equal(post.headers['rsa-retry-reason'], 'client-network', `${id}: Rsa-Retry-Reason on retry ${n}`);
    });
  }
  assert.ok(throttled().length >= 2, 'the track and the identify were refused at first');
  // Chromium logs each 4xx answer, once; the SDK itself logs nothing at error level (a failure it will
  // retry is a warning, and its default log level is ERROR).
  assert.deepEqual(consoleErrors, throttled().map(() => 'console.error: Failed to load resource: the server responded with a status of 429 (Too Many Requests)'),
    'the console errors are Chromium\'s, one per 429');
});
