// Type-checks the package's index.d.ts as a TypeScript user would use it (tsc --noEmit, strict).
import { load, type Analytics, type LoadOptions } from '@footfall/web';

const options: LoadOptions = { writeKey: 'wk_live_123', host: 'https://collect.example.com', autoPage: false };
const analytics: Analytics = await load(options);
const id: string | undefined = analytics.track('Order Completed', { revenue: 42.5 });
analytics.page();
analytics.page('Pricing');
analytics.page('Docs', 'Install', { section: 'npm' });
analytics.identify('user-7', { plan: 'pro' });
analytics.identify({ anonymousTrait: true });
analytics.group('acme', { seats: 5 });
analytics.alias('user-8');
analytics.optOut();
analytics.optIn();
analytics.reset();
await analytics.flush();
await analytics.persist();
const queued: number = analytics.stats().queued;
const where: 'indexeddb' | 'localstorage' | 'memory' = analytics.storage;
console.log(id, queued, where, analytics.anonymousId, analytics.sessionId, analytics.optedOut);
