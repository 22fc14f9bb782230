import { randomBytes, randomUUID } from 'node:crypto'
import { createSqliteLedger } from '402x-api'
import { openSqlite } from '../../packages/api/src/ledger/openSqlite.js'

export type History = { network: string; asset: string; payTo: string; resource: string; payer: string; count: number }

/**
 * Writes `count` settled $0.01 payments of `payer`, made now, to a ledger: the history that
 * many paid requests would have left, where volume pricing reads `user.monthlyRequests`.
 * One transaction: row by row through the ledger API would block this process for seconds.
 */
export async function writeHistory(path: string, history: History): Promise<void> {
  await createSqliteLedger({ path }).close() // the schema, should the server not have made it yet
  const db = openSqlite(path)
  try {
    db.exec('PRAGMA busy_timeout = 5000')
    const insert = db.prepare(`INSERT INTO payments (id, state, created_at, updated_at, network, asset, pay_to,
      payer, nonce, amount, valid_before, method, resource, payload, requirements)
      VALUES (@id, 'settled', @now, @now, @network, @asset, @payTo, @payer, @nonce, '10000', @validBefore, 'GET',
      @resource, '{}', '{}')`)
    db.exec('BEGIN IMMEDIATE')
    for (let i = 0; i < history.count; i++) {
      insert.run({
        id: randomUUID(),
        now: Date.now(),
        network: history.network,
        asset: history.asset.toLowerCase(),
        payTo: history.payTo,
        payer: history.payer.toLowerCase(),
        nonce: `0x${randomBytes(32).toString('hex')}`,
        validBefore: Math.floor(Date.now() / 1000) + 60,
        resource: history.resource,
      })
    }
    db.exec('COMMIT')
  } finally {
    db.close()
  }
}
