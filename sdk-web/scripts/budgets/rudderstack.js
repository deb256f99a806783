import { RudderAnalytics } from '@rudderstack/analytics-js';
const analytics = new RudderAnalytics();
analytics.load('wk_budget', 'https://collect.example');
analytics.track('Clicked', { plan: 'pro' });
