// Footfall for the browser: an analytics.js-style API over the Rust engine compiled to WebAssembly.
//
// This file does the browser's part: loading the wasm, fetch with keepalive, sendBeacon when the page
// is hidden or goes away, page views (SPA navigation included), UTM and referrer context, online and
// offline, and the cross-tab session. Queueing, identity, sessions, batching and retries are the
// engine's (footfall-core), and the queue's persistence is WebStorage's (IndexedDB).

import init, { Core } from './footfall_web.js';

const UTM = { utm_source: 'source', utm_medium: 'medium', utm_campaign: 'name', utm_term: 'term', utm_content: 'content' };

const json = (value) => (value == null ? '' : JSON.stringify(value));

/**
 * Loads Footfall: opens the persistent queue, restores the user and session, and starts delivering.
 * @param {import('./index').LoadOptions} options
 * @returns {Promise<import('./index').Analytics>}
 */
export async function load(options) {
  const o = options || {};
  if (!o.writeKey) throw new Error('footfall: writeKey is required');
  const host = String(o.host || 'http://localhost:8080').replace(/\/+$/, '');
  await init(o.wasmUrl ? { module_or_path: o.wasmUrl } : undefined);
  const core = await Core.open(
    o.storageName || 'footfall:' + o.writeKey,
    o.writeKey,
    o.storage === 'localStorage',
    o.flushAt || 20,
    o.flushInterval == null ? 10000 : o.flushInterval,
  );
  return new Analytics(core, host, o);
}

class Analytics {
  constructor(core, host, o) {
    this._core = core;
    this._url = host + '/v1/batch';
    this._timer = 0;
    this._scheduled = false;
    this._inFlight = null;
    this._reachable = true;
    this._campaign = null;
    this._referrer = typeof document === 'object' ? document.referrer : '';
    this._path = null;
    this._href = typeof location === 'object' ? location.href : '';
    this._pump = () => this.__pump();
    if (typeof window !== 'object') return;
    core.setNetwork(navigator.onLine !== false);
    addEventListener('online', () => (core.setNetwork(true), this._kick()));
    addEventListener('offline', () => core.setNetwork(false));
    // pagehide covers close, reload and navigation (and bfcache); visibilitychange covers a tab sent to
    // the background and killed there, which never sees pagehide on mobile.
    addEventListener('pagehide', () => this._beacon());
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'hidden') this._beacon();
    });
    if (typeof BroadcastChannel === 'function') {
      const owner = core.owner;
      this._channel = new BroadcastChannel('footfall:' + (o.storageName || 'footfall:' + o.writeKey));
      this._channel.onmessage = (m) => {
        const d = m.data;
        if (!d || d.o === owner) return;
        for (let i = 0; i < d.v.length; i += 2) core.sharedValue(d.v[i], d.v[i + 1] ?? undefined);
      };
    }
    this._setContext();
    if (o.autoPage !== false) {
      this.page();
      const wrap = (name) => {
        const original = history[name];
        history[name] = function (...args) {
          const r = original.apply(this, args);
          dispatchEvent(new Event('footfall:navigate'));
          return r;
        };
      };
      wrap('pushState');
      wrap('replaceState');
      const navigated = () => {
        if (location.pathname + location.search === this._path) return;
        this._referrer = this._href;
        this._setContext();
        this.page();
      };
      addEventListener('popstate', navigated);
      addEventListener('footfall:navigate', navigated);
    }
  }

  /** Records that the user did something. Returns the event's messageId (undefined when opted out). */
  track(event, properties) {
    const id = this._core.track(event, json(properties));
    this._kick();
    return id;
  }

  /** Records a page view: page(), page(name), page(name, properties) or page(category, name, properties). */
  page(category, name, properties) {
    if (typeof category === 'object' && category !== null) [category, name, properties] = [undefined, undefined, category];
    else if (typeof name === 'object' && name !== null) [category, name, properties] = [undefined, category, name];
    else if (name === undefined) [category, name] = [undefined, category];
    if (typeof location === 'object') {
      properties = Object.assign(
        { path: location.pathname, url: location.href, search: location.search, title: document.title, referrer: this._referrer },
        properties,
      );
      this._path = location.pathname + location.search;
      this._href = location.href;
    }
    const id = this._core.page(category ?? undefined, name ?? undefined, json(properties));
    this._kick();
    return id;
  }

  /** Says who the user is: identify(userId, traits) or identify(traits). */
  identify(userId, traits) {
    if (typeof userId === 'object' && userId !== null) [userId, traits] = [undefined, userId];
    const id = this._core.identify(userId == null ? undefined : String(userId), json(traits));
    this._kick();
    return id;
  }

  /** Associates the user with a group. */
  group(groupId, traits) {
    const id = this._core.group(String(groupId), json(traits));
    this._kick();
    return id;
  }

  /** Merges the current identity into userId. */
  alias(userId) {
    const id = this._core.alias(String(userId));
    this._kick();
    return id;
  }

  /** Forgets the user (logout): new anonymous id and session, no user id or traits. */
  reset() {
    this._core.reset();
  }

  /** Sends everything queued now; resolves when the queue is empty or delivery has to wait. */
  async flush() {
    this._core.flush();
    for (;;) {
      if (this._inFlight) {
        await this._inFlight;
        continue;
      }
      this.__pump();
      if (!this._inFlight) return;
    }
  }

  /** Consent withdrawn: nothing is recorded and the queue is emptied, until optIn(). Persisted. */
  optOut() {
    this._core.setOptedOut(true);
  }

  /** Consent given again. */
  optIn() {
    this._core.setOptedOut(false);
  }

  /** Whether the user opted out. */
  get optedOut() {
    return this._core.optedOut;
  }

  get anonymousId() {
    return this._core.anonymousId;
  }

  get userId() {
    return this._core.userId;
  }

  get sessionId() {
    return this._core.sessionId;
  }

  /** Where the queue persists: 'indexeddb', 'localstorage' or 'memory'. */
  get storage() {
    return this._core.backend;
  }

  /** Counters since load, and the queue's length now. */
  stats() {
    const [accepted, delivered, dropped, uploads, uploadFailures, queued] = this._core.stats();
    return { accepted, delivered, dropped, uploads, uploadFailures, queued };
  }

  /** Resolves when every event recorded so far is durable in the browser's storage. */
  persist() {
    return this._core.persist();
  }

  // ---- internals --------------------------------------------------------------------------------

  _setContext() {
    const search = new URLSearchParams(location.search);
    if (!this._campaign) {
      const campaign = {};
      for (const k in UTM) if (search.has(k)) campaign[UTM[k]] = search.get(k);
      this._campaign = campaign;
    }
    const context = {
      page: { path: location.pathname, url: location.href, search: location.search, title: document.title, referrer: this._referrer },
      userAgent: navigator.userAgent,
      locale: navigator.language,
    };
    if (Object.keys(this._campaign).length) context.campaign = this._campaign;
    this._core.setContext(JSON.stringify(context));
  }

  // Runs the engine's delivery loop at the end of this turn, once however many events were recorded.
  _kick() {
    if (this._scheduled) return;
    this._scheduled = true;
    queueMicrotask(() => {
      this._scheduled = false;
      this.__pump();
    });
  }

  __pump() {
    clearTimeout(this._timer);
    if (this._inFlight) return;
    const next = this._core.next(Date.now());
    if (typeof next === 'number') this._timer = setTimeout(this._pump, next);
    if (typeof next !== 'string') return;
    const core = this._core;
    const id = core.batchId;
    this._inFlight = fetch(this._url, {
      method: 'POST',
      body: next,
      // text/plain keeps the request CORS-simple: no preflight to lose on a flaky network.
      headers: { 'Content-Type': 'text/plain' },
      keepalive: next.length < 65000,
      credentials: 'omit',
    })
      .then(
        (r) => {
          this._reachable = true;
          return r.text().then((body) => core.result(id, r.status, r.headers.get('Retry-After') ?? undefined, body));
        },
        () => {
          this._reachable = false;
          core.result(id, 0, undefined, '');
        },
      )
      .catch(() => {})
      .finally(() => {
        this._inFlight = null;
        this.__pump();
      });
  }

  // The page is hidden or going away: hand the queue's head to sendBeacon, which outlives the page.
  _beacon() {
    const core = this._core;
    // A beacon's fate is unknown, so its batch counts as sent: only risk that when the collector
    // looks reachable (online, and no network error since the last answer). Otherwise the queue
    // stays in IndexedDB for the next page.
    if (navigator.onLine === false || !this._reachable || typeof navigator.sendBeacon !== 'function') {
      core.persist();
      return;
    }
    if (this._inFlight) {
      // A keepalive fetch outlives the page; count its batch as sent so the rest can go by beacon.
      core.result(core.batchId, 200, undefined, '');
    }
    core.flush();
    const next = core.next(Date.now());
    if (typeof next === 'string') {
      const sent = navigator.sendBeacon(this._url, new Blob([next], { type: 'text/plain' }));
      core.result(core.batchId, sent ? 200 : 0, undefined, '');
    }
    core.persist();
  }
}
