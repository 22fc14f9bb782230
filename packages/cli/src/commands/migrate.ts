import { parseArgs } from 'node:util'
import { X402Error } from '@402x/core'
import { loadConfigSources, migrateDatabase, schemaVersions } from '402x-api'
import { createUi } from '../ui.js'

export const migrateUsage = `  402x migrate [--database-url postgres://…] [--status] [--json]
      Brings the PostgreSQL database up to this release's schemas (each instance also
      migrates on start, one at a time). --status only prints the versions. The URL:
      --database-url, else X402_DATABASE_URL, else "databaseUrl" in 402x.config.json.`

/**
 * `402x migrate`: applies every store's migrations to the PostgreSQL database, under the
 * same advisory lock the instances take on start; refuses a database a newer release
 * migrated. With `--json`, one line: `{ url, migrated: [{ component, from, to }], versions }`.
 */
export async function migrateCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      'database-url': { type: 'string' },
      status: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    },
  })
  const ui = createUi({ json: values.json })
  const sources = loadConfigSources()
  const [url, from] = values['database-url']
    ? [values['database-url'], '--database-url']
    : sources.env.X402_DATABASE_URL
      ? [sources.env.X402_DATABASE_URL, 'X402_DATABASE_URL']
      : sources.file?.databaseUrl
        ? [sources.file.databaseUrl, '402x.config.json "databaseUrl"']
        : []
  if (!url || !from) {
    throw new X402Error('invalid_request', {
      message:
        'no PostgreSQL database given: pass --database-url postgres://user@host:5432/db, or set X402_DATABASE_URL (SQLite ledgers need no migration: they create and upgrade themselves)',
    })
  }
  const shown = url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@')
  ui.step(`${values.status ? 'reading' : 'migrating'} ${shown}…`)
  const migrated = values.status ? [] : await migrateDatabase(url, from)
  const versions = await schemaVersions(url, from)
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ url: shown, migrated, versions })}\n`)
    return 0
  }
  for (const m of migrated) ui.done(`${m.component}: version ${m.from} → ${m.to}`)
  const list = Object.entries(versions)
    .map(([component, version]) => `${component} ${version}`)
    .join(', ')
  ui.done(
    values.status
      ? `schemas: ${list}`
      : migrated.length
        ? `migrated ${migrated.length} schema(s); now ${list}`
        : `already up to date (${list})`,
  )
  return 0
}
