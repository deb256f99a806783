import { load } from 'footfall';
window.bench = load({ writeKey: 'wk_budget', host: 'https://collect.example', storageName: 'bench-' + Date.now(), autoPage: false, flushAt: 1000000, flushInterval: 3600000 }).then((a) => ({
  track: (i) => a.track('Clicked', { plan: 'pro', i }),
  persist: () => a.persist(),
}));
