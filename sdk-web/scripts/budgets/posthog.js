import posthog from 'posthog-js';
posthog.init('phc_budget', { api_host: 'https://collect.example' });
posthog.capture('Clicked', { plan: 'pro' });
