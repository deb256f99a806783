// Vite: builds examples/web/index.html; the import map is ignored and @footfall/web resolves from
// node_modules, where the wasm is emitted as an asset.
export default {
  logLevel: 'warn',
  base: './',
  build: { target: 'es2022', emptyOutDir: true },
};
