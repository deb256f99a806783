import posthog from 'posthog-js';
posthog.init('phc_budget', { api_host: 'https://collect.example', autocapture: false, capture_pageview: false, disable_session_recording: true, advanced_disable_decide: true });
window.bench = Promise.resolve({ track: (i) => posthog.capture('Clicked', { plan: 'pro', i }) });
