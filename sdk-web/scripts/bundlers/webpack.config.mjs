// webpack 5: the package's `new URL('footfall_web_bg.wasm', import.meta.url)` becomes an emitted asset.
export default (env) => ({
  mode: 'production',
  entry: env.entry,
  output: { path: env.out, filename: 'shop.js' },
  experiments: { topLevelAwait: true },
});
