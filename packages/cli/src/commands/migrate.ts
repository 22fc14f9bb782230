import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { stateDir } from '@402x/core'
import {
  isPostgresUrl,
  loadConfigSources,
  migrateDatabase,
  migrateSqliteDatabase,
  schemaVersions,
  sqliteSchemaVersions,
} from '402x-api'
import { createUi } from '../ui.js'

export const migrateUsage = `  402x migrate [--database-url postgres://…|sqlite:path] [--status] [--json]
      Brings the database up to this release's schemas: PostgreSQL (each instance also
      migrates on start, one at a time), or a SQLite ledger file and the analytics file
      beside it (each store also migrates its tables when it opens them). --status only
      prints the versions. The database: --database-url, else X402_DATABASE_URL, else
      "databaseUrl" in 402x.config.json, else the SQLite ledger in .402x/.`

/**
 * `402x migrate`: applies every store's migrations to the PostgreSQL database (under the
 * same advisory lock the instances take on start), or to the SQLite ledger file and its
 * analytics file; refuses a database a newer release migrated. With `--json`, one line:
 * `{ url, migrated: [{ component, from, to }], versions }`.
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
        : [join(stateDir(), 'ledger.db'), 'the default SQLite ledger']
  if (!isPostgresUrl(url)) {
    // A SQLite ledger: the file and the analytics file beside it.
    const path = url.replace(/^sqlite:(\/\/)?/, '')
    ui.step(`${values.status ? 'reading' : 'migrating'} the SQLite ledger ${path} (${from})…`)
    const migrated = values.status ? [] : migrateSqliteDatabase(path)
    return report(ui, values, `sqlite:${path}`, migrated, sqliteSchemaVersions(path))
  }
  const shown = url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@')
  ui.step(`${values.status ? 'reading' : 'migrating'} ${shown}…`)
  const migrated = values.status ? [] : await migrateDatabase(url, from)
  return report(ui, values, shown, migrated, await schemaVersions(url, from))
}

/** What was migrated and the versions now, as a line of JSON or for a person. */
function report(
  ui: ReturnType<typeof createUi>,
  values: { status: boolean; json: boolean },
  shown: string,
  migrated: { component: string; from: number; to: number }[],
  versions: Record<string, number>,
): number {
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
