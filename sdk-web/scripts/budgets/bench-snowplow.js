import { newTracker, trackSelfDescribingEvent } from '@snowplow/browser-tracker';
newTracker('sp', 'https://collect.example');
window.bench = Promise.resolve({
  track: (i) => trackSelfDescribingEvent({ event: { schema: 'iglu:com.example/clicked/jsonschema/1-0-0', data: { plan: 'pro', i } } }),
});
