import { AnalyticsBrowser } from '@segment/analytics-next';
const analytics = AnalyticsBrowser.load({ writeKey: 'wk_budget' });
analytics.track('Clicked', { plan: 'pro' });
