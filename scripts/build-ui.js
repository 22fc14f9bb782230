#!/usr/bin/env node
// Builds every front-end app (apps/<name>/vite.config.*) into packages/api/dist/ui/<name>,
// where the paywall serves it from the package: `npm run build` runs this after tsc.
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'vite'

const root = fileURLToPath(new URL('..', import.meta.url))
const appsDir = join(root, 'apps')
const only = process.argv.slice(2)

let apps = []
try {
  apps = readdirSync(appsDir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => ({
      name: entry.name,
      config: readdirSync(join(appsDir, entry.name)).find((file) => /^vite\.config\.(m?[jt]s)$/.test(file)),
    }))
    .filter((app) => app.config && (only.length === 0 || only.includes(app.name)))
} catch {
  // No apps folder: nothing to build.
}

for (const app of apps) {
  const started = Date.now()
  await build({
    configFile: join(appsDir, app.name, app.config),
    root: join(appsDir, app.name),
    logLevel: 'warn',
    build: { outDir: join(root, 'packages', 'api', 'dist', 'ui', app.name), emptyOutDir: true },
  })
  console.log(`built apps/${app.name} → packages/api/dist/ui/${app.name} (${Date.now() - started} ms)`)
}
