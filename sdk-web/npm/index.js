// Footfall for the browser: an analytics.js-style API over the Rust engine compiled to WebAssembly.
//
// This file does the browser's part: loading the wasm, fetch with keepalive, sendBeacon when the page
// is hidden or goes away, page views (SPA navigation included), UTM and referrer context, online and
// offline, the cross-tab session, and carrying the queue to and from IndexedDB (io.js). Queueing,
// identity, sessions, batching and retries are the engine's (footfall-core, in the wasm), which keeps
// the queue in memory and journals its changes; this file writes the journal once per turn.
//
// The core's exports are few and take numbers and strings (see sdk-web/src/core.rs): a call that
// fails returns undefined or false, and core.error() then says why.

import init, { Core } from './footfall_web.js';
import { openStore, commit, settled } from './io.js';

const UTM = { utm_source: 'source', utm_medium: 'medium', utm_campaign: 'name', utm_term: 'term', utm_content: 'content' };
const BACKENDS = { idb: 'indexeddb', local: 'localstorage' };
// What core.next() returns besides a wait in milliseconds.
const IDLE = -1;
const UPLOAD = -2;

const json = (value) => (value == null ? '' : JSON.stringify(value));
const str = (value) => (value == null ? undefined : String(value));

// A recording call's result: the messageId, or undefined when opted out; an invalid call throws the
// engine's message.
const checked = (core, result) => {
  if (result === undefined || result === false) {
    const e = core.error();
    if (e !== undefined) throw new Error(e);
  }
  return result;
};

/**
 * Loads Footfall: opens the persistent queue, restores the user and session, and starts delivering.
 * @param {import('./index').LoadOptions} options
 * @returns {Promise<import('./index').Analytics>}
 */
export async function load(options) {
  const o = options || {};
  if (!o.writeKey) throw new Error('footfall: writeKey is required');
  const host = String(o.host || 'http://localhost:8080').replace(/\/+$/, '');
  const wasm = await init(o.wasmUrl ? { module_or_path: o.wasmUrl } : undefined);
  const name = o.storageName || 'footfall:' + o.writeKey;
  const store = await openStore(name, o.storage === 'localStorage');
  const core = new Core();
  for (let i = 0; i < store.e.length; i += 2) core.ev(store.e[i], store.e[i + 1]);
  for (let i = 0; i < store.v.length; i += 2) core.shared(store.v[i], store.v[i + 1]);
  store.e = store.v = null;
  const flushInterval = o.flushInterval == null ? 10000 : o.flushInterval;
  checked(core, core.start(store.s, String(o.writeKey), o.flushAt || 20, flushInterval, Math.random() * 2 ** 53));
  return new Analytics(core, wasm.memory, store, host, name, o);
}

class Analytics {
  constructor(core, memory, store, host, name, o) {
    this._core = core;
    this._memory = memory;
    this._idp = core.idp();
    this._ids = new Uint8Array(0);
    this._store = store;
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
    // Values the client wrote when it started (a new anonymous id) go to the store at the end of this turn.
    this._kick();
    if (typeof window !== 'object') return;
    core.ctl(navigator.onLine === false ? 2 : 1);
    addEventListener('online', () => (core.ctl(1), this._kick()));
    addEventListener('offline', () => core.ctl(2));
    // pagehide covers close, reload and navigation (and bfcache); visibilitychange covers a tab sent to
    // the background and killed there, which never sees pagehide on mobile.
    addEventListener('pagehide', () => this._beacon());
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'hidden') this._beacon();
    });
    if (typeof BroadcastChannel === 'function') {
      this._channel = new BroadcastChannel('footfall:' + name);
      this._channel.onmessage = (m) => {
        const d = m.data;
        if (!d || d.o === store.o) return;
        for (let i = 0; i < d.v.length; i += 2) core.shared(d.v[i], d.v[i + 1] ?? undefined);
        this._kick();
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
    const n = this._core.track(event == null ? '' : String(event), json(properties));
    this._kick();
    if (n === 0) return checked(this._core, undefined);
    // The messageId is ASCII in wasm memory (see Core::track); a view is remade when memory grows.
    if (this._ids.byteLength === 0) this._ids = new Uint8Array(this._memory.buffer, this._idp, 36);
    const b = this._ids;
    if (n !== 36) return String.fromCharCode.apply(null, b.subarray(0, n));
    // Spelled out: several times faster than apply or TextDecoder for one short string.
    // prettier-ignore
    return String.fromCharCode(b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15], b[16], b[17],
      b[18], b[19], b[20], b[21], b[22], b[23], b[24], b[25], b[26], b[27], b[28], b[29], b[30], b[31], b[32], b[33], b[34], b[35]);
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
    return this._rec(0, str(category), str(name), json(properties));
  }

  /** Says who the user is: identify(userId, traits) or identify(traits). */
  identify(userId, traits) {
    if (typeof userId === 'object' && userId !== null) [userId, traits] = [undefined, userId];
    return this._rec(1, str(userId), undefined, json(traits));
  }

  /** Associates the user with a group. */
  group(groupId, traits) {
    return this._rec(2, String(groupId), undefined, json(traits));
  }

  /** Merges the current identity into userId. */
  alias(userId) {
    return this._rec(3, String(userId), undefined, '');
  }

  /** Forgets the user (logout): new anonymous id and session, no user id or traits. */
  reset() {
    this._ctl(5);
  }

  /** Sends everything queued now; resolves when the queue is empty or delivery has to wait. */
  async flush() {
    this._core.ctl(0);
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
    this._ctl(3);
  }

  /** Consent given again. */
  optIn() {
    this._ctl(4);
  }

  /** Whether the user opted out. */
  get optedOut() {
    return this._core.stat(6) === 1;
  }

  get anonymousId() {
    return this._core.id(0);
  }

  get userId() {
    return this._core.id(1);
  }

  get sessionId() {
    return this._core.id(2);
  }

  /** Where the queue persists: 'indexeddb', 'localstorage' or 'memory'. */
  get storage() {
    return BACKENDS[this._store.k] || 'memory';
  }

  /** Counters since load, and the queue's length now. */
  stats() {
    const [accepted, delivered, dropped, uploads, uploadFailures, queued] = [0, 1, 2, 3, 4, 5].map((i) => this._core.stat(i));
    return { accepted, delivered, dropped, uploads, uploadFailures, queued };
  }

  /** Resolves when every event recorded so far is durable in the browser's storage. */
  persist() {
    this._commit();
    return settled(this._store);
  }

  // ---- internals --------------------------------------------------------------------------------

  _rec(kind, a, b, text) {
    const id = checked(this._core, this._core.rec(kind, a, b, text));
    this._kick();
    return id;
  }

  _ctl(command) {
    checked(this._core, this._core.ctl(command));
    this._kick();
  }

  // Writes what the core changed since the last call, in one transaction.
  _commit() {
    const ops = [];
    for (let op; (op = this._core.op()) !== undefined; ) ops.push(op);
    if (ops.length) commit(this._store, ops);
  }

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
    checked(this._core, this._core.rec(4, undefined, undefined, JSON.stringify(context)));
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

  // Commits the core's changes, then carries out what the engine decides: wait, stay idle, or upload.
  __pump() {
    clearTimeout(this._timer);
    const core = this._core;
    const next = this._inFlight ? IDLE : core.next(Date.now());
    this._commit();
    if (next >= 0) this._timer = setTimeout(this._pump, next);
    if (next !== UPLOAD) return;
    const body = core.body();
    const id = core.stat(7);
    this._inFlight = fetch(this._url, {
      method: 'POST',
      body,
      // text/plain keeps the request CORS-simple: no preflight to lose on a flaky network.
      headers: { 'Content-Type': 'text/plain' },
      keepalive: body.length < 65000,
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
      this._commit();
      return;
    }
    if (this._inFlight) {
      // A keepalive fetch outlives the page; count its batch as sent so the rest can go by beacon.
      core.result(core.stat(7), 200, undefined, '');
    }
    core.ctl(0);
    if (core.next(Date.now()) === UPLOAD) {
      const sent = navigator.sendBeacon(this._url, new Blob([core.body()], { type: 'text/plain' }));
      core.result(core.stat(7), sent ? 200 : 0, undefined, '');
    }
    this._commit();
  }
}
