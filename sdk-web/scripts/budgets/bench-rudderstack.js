import { RudderAnalytics } from '@rudderstack/analytics-js';
const analytics = new RudderAnalytics();
analytics.load('wk_budget', 'https://collect.example', { loadIntegration: false });
window.bench = new Promise((ok) => analytics.ready(() => ok({ track: (i) => analytics.track('Clicked', { plan: 'pro', i }) })));
