// The page's script: RudderStack's JavaScript SDK as an app installs it from npm, in its `bundled`
// build (every plugin inside: nothing is fetched from RudderStack's CDN), with the data plane URL and
// the control plane (`configUrl`) both set to the collector. rudderstack.test.mjs bundles this with
// esbuild (in memory) and serves it; the test drives `window.loadRudderStack` and `window.rudderanalytics`
// through Playwright.

import { RudderAnalytics } from '@rudderstack/analytics-js/bundled';

// Loads the SDK as the app does, `load(writeKey, collectorURL, { configUrl: collectorURL })` (the test
// passes both URLs; the SDK first fetches `<configUrl>/sourceConfig/?p=npm&v=<version>&...&writeKey=<key>`),
// and resolves once it is ready, with what it made of the source config (from the state it exposes as
// `RudderStackGlobals[writeKey].state`). Rejects if it is not ready within 10 s (it never is without a
// valid source config).
window.loadRudderStack = (writeKey, dataPlaneUrl, configUrl) =>
  new Promise((resolve, reject) => {
    const analytics = new RudderAnalytics();
    window.rudderanalytics = analytics;
    const timer = setTimeout(() => reject(new Error('RudderStack SDK not ready after 10 s')), 10_000);
    analytics.load(writeKey, dataPlaneUrl, { configUrl });
    analytics.ready(() => {
      clearTimeout(timer);
      const state = globalThis.RudderStackGlobals?.[writeKey]?.state;
      resolve({
        anonymousId: analytics.getAnonymousId(),
        source: state?.source?.value ?? null,
        loadedPlugins: state?.plugins?.loadedPlugins?.value ?? null,
        sourceConfigUrl: state?.lifecycle?.sourceConfigUrl?.value ?? null,
        dataPlaneUrl: state?.lifecycle?.activeDataplaneUrl?.value ?? null,
      });
    });
  });

// The SDK's calls take a callback, invoked with the event as queued for delivery (not once delivered):
// each resolves with the messageId the SDK gave the event.
const queued = (call) => new Promise((resolve) => call((event) => resolve({ messageId: event?.messageId ?? null })));
window.appCalls = async () => {
  const a = window.rudderanalytics;
  const page = await queued((cb) => a.page(cb));
  const track = await queued((cb) => a.track('Order Completed', { revenue: 42.5, currency: 'EUR' }, cb));
  const identify = await queued((cb) => a.identify('user-1', { plan: 'pro' }, cb));
  return { page, track, identify };
};
