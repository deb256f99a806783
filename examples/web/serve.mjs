// Serves the demo shop on http://127.0.0.1:PORT with the package built by sdk-web/scripts/build.sh,
// and forwards /v1/* to the collector in FOOTFALL_COLLECTOR_URL (else a stand-in accepts batches).
// Usage: node examples/web/serve.mjs
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { start } from '../../sdk-web/e2e/server.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const server = await start({ dirs: { '/shop/': here } });
console.log(`demo shop: ${server.origin}/shop/index.html${server.standIn ? '  (no FOOTFALL_COLLECTOR_URL: stand-in collector)' : ''}`);
