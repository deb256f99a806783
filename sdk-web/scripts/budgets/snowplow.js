import { newTracker, trackSelfDescribingEvent } from '@snowplow/browser-tracker';
newTracker('sp', 'https://collect.example');
trackSelfDescribingEvent({ event: { schema: 'iglu:com.example/clicked/jsonschema/1-0-0', data: { plan: 'pro' } } });
