import { defineConfig } from 'vite'

// Served by the paywall at /__402x/dashboard from packages/api/dist/ui/dashboard
// (scripts/build-ui.js sets outDir). Everything is bundled: no request to any other host.
export default defineConfig({
  base: '/__402x/dashboard/',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: { target: 'es2022', sourcemap: false, assetsInlineLimit: 0, chunkSizeWarningLimit: 300 },
})
