// The browser I/O under `WebStorage` (src/storage/mod.rs): opening the queue, committing changes, and
// the cross-tab bookkeeping. Rust keeps the queue in memory; index.js loads it from `openStore` and,
// once per microtask, takes the changes from the core and hands them to `commit`. This file only moves
// strings in and out of IndexedDB or localStorage.
//
// Every tab owns a queue of its own ("owner"), held by a Web Lock for as long as the page lives. A tab
// that opens the store adopts the queues of owners whose lock is free (closed or crashed tabs), under
// an exclusive "open" lock, so two tabs never send the same events. Without Web Locks all tabs share
// one owner, "main".
//
// IndexedDB layout (database = the store name, version 1):
//   e: [owner, key] -> a chunk of encoded events ("#" then "seq,attempts,createdAt,idLen,payloadLen,"
//                      + messageId + payload, for each), or, written before chunks, one event under
//                      its seq ("attempts,createdAt,idLen,messageId+payload"); opaque here
// (the keys of adopted records are renumbered on collision; the core renumbers colliding seqs inside)
//   v: key          -> value string (anonymous_id, user_id, session, traits, ...)
//   m: "s:" + owner -> the highest seq that owner ever used
// localStorage uses the keys "ff|<name>|e|<owner>|<key>", "ff|<name>|v|<key>", "ff|<name>|m|<owner>".

const locks = typeof navigator !== 'undefined' && navigator.locks ? navigator.locks : null;

const req = (r) =>
  new Promise((ok, fail) => {
    r.onsuccess = () => ok(r.result);
    r.onerror = () => fail(r.error);
  });

const done = (tx) =>
  new Promise((ok, fail) => {
    tx.oncomplete = () => ok();
    tx.onerror = tx.onabort = () => fail(tx.error);
  });

// Decides which events become this owner's: its own, and those of owners that are no longer alive.
// `events` is [[owner, key, text]], `meta` is [[owner, lastSeq]]. Keys are kept unless two adopted
// queues used the same one; the result lists the moves to write and the new high-water mark.
function adopt(h, events, meta, alive) {
  let high = 0;
  for (const [, s] of meta) high = Math.max(high, s);
  for (const [, s] of events) high = Math.max(high, s);
  const mine = events.filter(([o]) => o === h.o || !alive(o)).sort((a, b) => a[1] - b[1]);
  const used = new Set();
  const moves = [];
  for (const [o, s, x] of mine) {
    const seq = used.has(s) ? ++high : s;
    used.add(seq);
    h.e.push(seq, x);
    if (o !== h.o) moves.push([o, s, seq, x]);
  }
  h.s = high;
  return { moves, dead: meta.map(([o]) => o).filter((o) => o !== h.o && !alive(o)) };
}

async function openIdb(h, alive) {
  h.db = await new Promise((ok, fail) => {
    const r = indexedDB.open(h.n, 1);
    r.onupgradeneeded = () => {
      for (const s of ['e', 'v', 'm']) r.result.createObjectStore(s);
    };
    r.onsuccess = () => ok(r.result);
    r.onerror = () => fail(r.error);
    r.onblocked = () => fail(new Error('blocked'));
  });
  const tx = h.db.transaction(['e', 'v', 'm'], 'readwrite');
  const [E, V, M] = ['e', 'v', 'm'].map((s) => tx.objectStore(s));
  const [ek, ev, vk, vv, mk, mv] = await Promise.all(
    [E, V, M].flatMap((s) => [req(s.getAllKeys()), req(s.getAll())]),
  );
  const { moves, dead } = adopt(
    h,
    ek.map((k, i) => [k[0], k[1], ev[i]]),
    mk.map((k, i) => [k.slice(2), mv[i]]),
    alive,
  );
  for (const [o, s, seq, x] of moves) {
    E.delete([o, s]);
    E.put(x, [h.o, seq]);
  }
  for (const o of dead) M.delete('s:' + o);
  M.put(h.s, 's:' + h.o);
  vk.forEach((k, i) => h.v.push(k, vv[i]));
  await done(tx);
}

function openLocal(h, alive) {
  const ls = localStorage;
  const pre = 'ff|' + h.n + '|';
  ls.setItem(pre + 'probe', '1');
  ls.removeItem(pre + 'probe');
  const events = [];
  const meta = [];
  for (let i = 0; i < ls.length; i++) {
    const key = ls.key(i);
    if (!key.startsWith(pre)) continue;
    const [kind, a, b] = key.slice(pre.length).split('|');
    const value = ls.getItem(key);
    if (kind === 'e') events.push([a, Number(b), value]);
    else if (kind === 'm') meta.push([a, Number(value)]);
    else if (kind === 'v') h.v.push(key.slice(pre.length + 2), value);
  }
  const { moves, dead } = adopt(h, events, meta, alive);
  for (const [o, s, seq, x] of moves) {
    ls.removeItem(pre + 'e|' + o + '|' + s);
    ls.setItem(pre + 'e|' + h.o + '|' + seq, x);
  }
  for (const o of dead) ls.removeItem(pre + 'm|' + o);
  ls.setItem(pre + 'm|' + h.o, String(h.s));
}

/** Opens (creating if needed) the store `name`; IndexedDB unless `local`, else localStorage, else memory. */
export async function openStore(name, local) {
  const h = {
    n: name,
    o: locks ? Date.now().toString(36) + Math.random().toString(36).slice(2, 8) : 'main',
    k: 'memory',
    db: null,
    e: [],
    v: [],
    s: 0,
    p: Promise.resolve(),
    r: null,
    bc: typeof BroadcastChannel === 'function' ? new BroadcastChannel('footfall:' + name) : null,
  };
  const lockName = (o) => 'footfall:' + name + ':owner:' + o;
  const body = async () => {
    let alive = () => true;
    if (locks) {
      await new Promise((held, fail) => {
        locks
          .request(lockName(h.o), () => new Promise((release) => ((h.r = release), held())))
          .catch(fail);
      });
      const names = new Set((await locks.query()).held.map((l) => l.name));
      alive = (o) => o === h.o || names.has(lockName(o));
    }
    if (!local && typeof indexedDB !== 'undefined') {
      try {
        await openIdb(h, alive);
        h.k = 'idb';
        return;
      } catch (_) {
        h.e = [];
        h.v = [];
      }
    }
    try {
      openLocal(h, alive);
      h.k = 'local';
    } catch (_) {
      h.e = [];
      h.v = [];
    }
  };
  if (locks) await locks.request('footfall:' + name + ':open', body);
  else await body();
  return h;
}

/**
 * Writes `ops` in one transaction, and tells the other tabs about changed values. Each op is a string
 * from the core (`Op::to_text`): a kind digit, then a seq or key, then `,` and the text for a put:
 * 0 put event, 1 delete event, 2 set value, 3 clear value, 4 high-water mark. Returns a promise of
 * durability.
 */
export function commit(h, ops) {
  const shared = [];
  const pre = 'ff|' + h.n + '|';
  let E, V, M, ls;
  if (h.k === 'idb') {
    const tx = h.db.transaction(['e', 'v', 'm'], 'readwrite');
    [E, V, M] = ['e', 'v', 'm'].map((s) => tx.objectStore(s));
    h.p = done(tx).catch(() => {});
  } else if (h.k === 'local') {
    ls = localStorage;
  }
  try {
    for (const text of ops) {
      const op = text.charCodeAt(0) - 48;
      const comma = text.indexOf(',');
      let a = comma < 0 ? text.slice(1) : text.slice(1, comma);
      const b = comma < 0 ? null : text.slice(comma + 1);
      if (op === 2 || op === 3) shared.push(a, b);
      else a = Number(a);
      if (E) {
        if (op === 0) E.put(b, [h.o, a]);
        else if (op === 1) E.delete([h.o, a]);
        else if (op === 2) V.put(b, a);
        else if (op === 3) V.delete(a);
        else M.put(a, 's:' + h.o);
      } else if (ls) {
        if (op === 0) ls.setItem(pre + 'e|' + h.o + '|' + a, b);
        else if (op === 1) ls.removeItem(pre + 'e|' + h.o + '|' + a);
        else if (op === 2) ls.setItem(pre + 'v|' + a, b);
        else if (op === 3) ls.removeItem(pre + 'v|' + a);
        else ls.setItem(pre + 'm|' + h.o, String(a));
      }
    }
  } catch (_) {
    // Quota exceeded: the queue stays in memory and is sent from there.
  }
  if (shared.length && h.bc) h.bc.postMessage({ o: h.o, v: shared });
  return h.p;
}

/** A promise that settles when every commit so far is durable. */
export function settled(h) {
  return h.p;
}

/** Closes the store once pending writes are durable, and frees its queue for adoption. */
export function release(h) {
  h.p.then(() => {
    if (h.db) h.db.close();
    if (h.r) h.r();
    if (h.bc) h.bc.close();
  });
}
