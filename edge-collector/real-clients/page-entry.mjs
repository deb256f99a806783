// The page's script: Segment's analytics-next as an app installs it from npm, configured only with a
// write key and `cdnURL` (the collector). analytics-next.test.mjs bundles this with esbuild (in memory)
// and serves it; the test drives `window.loadSegment` and `window.analytics` through Playwright.

import { AnalyticsBrowser } from '@segment/analytics-next';

// Loads analytics-next (which fetches `<cdnURL>/v1/projects/<writeKey>/settings`) and resolves once it
// is ready, with what the settings made of it.
window.loadSegment = async (writeKey, cdnURL) => {
  const analytics = AnalyticsBrowser.load({ writeKey, cdnURL });
  window.analytics = analytics;
  const [instance] = await analytics;
  const segmentio = instance.queue.plugins.find((p) => p.name === 'Segment.io');
  return {
    version: instance.VERSION,
    plugins: instance.queue.plugins.map((p) => p.name),
    segmentio: segmentio?.metadata,
  };
};

// What a call's promise came to, in a form that survives page.evaluate: the message id and whether
// delivery failed, or the error analytics-next refused the call with.
window.settle = (promise) =>
  promise.then(
    (ctx) => ({ messageId: ctx.event.messageId, failedDelivery: ctx.failedDelivery()?.reason?.message ?? null }),
    (error) => ({ rejected: String(error?.message ?? error) }),
  );
