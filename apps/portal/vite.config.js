// The developer portal: built by `node scripts/build-ui.js` into packages/api/dist/ui/portal
// and served by the paywall at /__402x/portal (no CDN, no other host).
export default {
  base: '/__402x/portal/',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: { assetsInlineLimit: 0, modulePreload: { polyfill: false }, sourcemap: false },
}
