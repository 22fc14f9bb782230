#!/usr/bin/env node
// The `402x` command's launcher. It is committed (not built) so that npm links
// `node_modules/.bin/402x` at install time, before `prepare` has built `dist/`:
// npm skips a `bin` whose file does not exist yet, and a fresh clone would get no `402x`.
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const built = new URL('../dist/bin.js', import.meta.url)
if (!existsSync(fileURLToPath(built))) {
  process.stderr.write(
    `402x: ${fileURLToPath(built)} is missing: the CLI is not built.\n` +
      'Run `npm run build` at the root of the 402x repository (`npm ci` runs it for you), then try again.\n',
  )
  process.exit(1)
}
await import(built.href)
