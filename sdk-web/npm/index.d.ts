/** Footfall for the browser: analytics.js-style tracking over a Rust engine compiled to WebAssembly. */

/** Options for {@link load}. */
export interface LoadOptions {
  /** The source's write key. */
  writeKey: string;
  /** The collector's origin, e.g. `https://collect.example.com`. Batches go to `${host}/v1/batch`. */
  host: string;
  /** Record a page view at load and on every SPA navigation (pushState, replaceState, popstate). Default true. */
  autoPage?: boolean;
  /** Send as soon as this many events are queued. Default 20. */
  flushAt?: number;
  /** Send when the oldest queued event has waited this many milliseconds. Default 10000. */
  flushInterval?: number;
  /** The IndexedDB database (or localStorage prefix) to keep the queue in. Default `footfall:<writeKey>`. */
  storageName?: string;
  /** Force localStorage instead of IndexedDB. Default: IndexedDB, falling back to localStorage. */
  storage?: 'auto' | 'localStorage';
  /** Where to fetch `footfall_web_bg.wasm` from, if not next to this module. */
  wasmUrl?: string | URL;
}

/** JSON-serializable properties or traits. */
export type Properties = Record<string, unknown>;

/** Counters since {@link load}, and the queue's length now. */
export interface Stats {
  accepted: number;
  delivered: number;
  dropped: number;
  uploads: number;
  uploadFailures: number;
  queued: number;
}

/** The loaded client. Recording calls return the event's messageId, or undefined when opted out. */
export interface Analytics {
  track(event: string, properties?: Properties): string | undefined;
  page(): string | undefined;
  page(name: string, properties?: Properties): string | undefined;
  page(category: string, name: string, properties?: Properties): string | undefined;
  page(properties: Properties): string | undefined;
  identify(userId: string, traits?: Properties): string | undefined;
  identify(traits: Properties): string | undefined;
  group(groupId: string, traits?: Properties): string | undefined;
  alias(userId: string): string | undefined;
  /** Forgets the user (logout): a new anonymous id and session, no user id or traits. */
  reset(): void;
  /** Sends everything queued now; resolves when the queue is empty or delivery has to wait. */
  flush(): Promise<void>;
  /** Consent withdrawn: nothing is recorded and the queue is emptied, until optIn(). Persisted. */
  optOut(): void;
  /** Consent given again. */
  optIn(): void;
  readonly optedOut: boolean;
  readonly anonymousId: string;
  readonly userId: string | undefined;
  readonly sessionId: string | undefined;
  /** Where the queue persists. */
  readonly storage: 'indexeddb' | 'localstorage' | 'memory';
  stats(): Stats;
  /** Resolves when every event recorded so far is durable in the browser's storage. */
  persist(): Promise<void>;
}

/** Loads the wasm, opens the persistent queue, restores the user and session, and starts delivering. */
export function load(options: LoadOptions): Promise<Analytics>;
