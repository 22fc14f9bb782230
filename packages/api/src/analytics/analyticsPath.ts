/**
 * The analytics file beside a SQLite ledger: `ledger.db` → `ledger.analytics.db`.
 *
 * @example
 * analyticsPathFor('.402x/ledger.db') // '.402x/ledger.analytics.db'
 */
export const analyticsPathFor = (ledgerPath: string) => ledgerPath.replace(/(\.db)?$/, '.analytics.db')
