import { AnalyticsBrowser } from '@segment/analytics-next';
window.bench = AnalyticsBrowser.load({ writeKey: 'wk_budget' }).then(([analytics]) => ({ track: (i) => analytics.track('Clicked', { plan: 'pro', i }) }));
