import { load } from 'footfall';
load({ writeKey: 'wk_budget', host: 'https://collect.example' }).then((a) => a.track('Clicked', { plan: 'pro' }));
