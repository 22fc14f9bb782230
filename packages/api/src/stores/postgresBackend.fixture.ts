import { freshSchema } from '../../../../test/helpers/services.js'
import type { Backend } from './contract.fixture.js'

/**
 * A contract backend on PostgreSQL: a fresh schema per case, seen through two pools (what
 * two instances sharing the database see). `open(url)` opens one store on a URL; each
 * store's `close()` releases its pool, and the schema is dropped after.
 *
 * @example
 * paymentLedgerContract('PostgreSQL', () => postgresBackend(databaseUrl, (url) => createPostgresLedger({ url })))
 */
export async function postgresBackend<T extends { close(): Promise<void> }>(
  databaseUrl: string,
  open: (url: string) => T,
): Promise<Backend<T>> {
  const schema = await freshSchema(databaseUrl)
  const a = open(`${schema.url}&application_name=402x-contract-a`)
  const b = open(`${schema.url}&application_name=402x-contract-b`)
  return {
    a,
    b,
    async close() {
      await a.close()
      await b.close()
      await schema.drop()
    },
  }
}
