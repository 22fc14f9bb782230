import type { openSqlite } from '../ledger/openSqlite.js'

/** A caller's unposted tab (`@account` is `caller:…`), in the statements that weigh it. */
const tabOf = 'COALESCE((SELECT used FROM credit_tabs WHERE account = @account), 0)'

/** Every statement of the credit ledger, prepared once on its connection. */
export function creditQueries(db: ReturnType<typeof openSqlite>) {
  return {
    insertTx: db.prepare(`INSERT INTO credit_transactions (kind, ref, account, amount, note, created_at)
      VALUES (@kind, @ref, @account, CAST(@amount AS INTEGER), @note, @now) RETURNING id`),
    txByRef: db.prepare(
      'SELECT id, account, CAST(amount AS TEXT) AS amount FROM credit_transactions WHERE kind = ? AND ref = ?',
    ),
    insertEntry: db.prepare(`INSERT INTO credit_entries (transaction_id, account, amount, created_at)
      VALUES (@tx, @account, CAST(@amount AS INTEGER), @now)`),
    // Not an upsert: SQLite checks the CHECK constraint on the VALUES row before it finds the
    // conflict, which would refuse every debit of a caller or hold account.
    addToBalance: db.prepare(
      'UPDATE credit_balances SET balance = balance + CAST(@amount AS INTEGER) WHERE account = @account',
    ),
    openBalance: db.prepare(
      'INSERT INTO credit_balances (account, balance) VALUES (@account, CAST(@amount AS INTEGER))',
    ),
    // The overdraft guard: the debit happens only if the balance, less the caller's unposted
    // tab, covers it.
    debitIfCovered: db.prepare(`UPDATE credit_balances SET balance = balance - CAST(@amount AS INTEGER)
      WHERE account = @account
        AND balance - ${tabOf} >= CAST(@amount AS INTEGER)`),
    balance: db.prepare('SELECT CAST(balance AS TEXT) AS balance FROM credit_balances WHERE account = ?'),
    tabOf: db.prepare('SELECT CAST(used AS TEXT) AS used FROM credit_tabs WHERE account = ?'),
    // One statement, one snapshot: a tab posted between two reads is never counted twice or not at all.
    available: db.prepare(`SELECT CAST(
        COALESCE((SELECT balance FROM credit_balances WHERE account = @account), 0) - ${tabOf} AS TEXT) AS available`),
    // The hot path's one write: adds to the caller's tab if its balance, less the tab, covers it.
    addToTab: db.prepare(`INSERT INTO credit_tabs (account, used, charges)
      SELECT @account, CAST(@amount AS INTEGER), @charges
      WHERE COALESCE((SELECT balance FROM credit_balances WHERE account = @account), 0) - ${tabOf}
        >= CAST(@amount AS INTEGER)
      ON CONFLICT (account) DO UPDATE SET used = used + excluded.used, charges = charges + excluded.charges`),
    tabs: db.prepare('SELECT account FROM credit_tabs'),
    tab: db.prepare('SELECT account, CAST(used AS TEXT) AS used, charges FROM credit_tabs WHERE account = ?'),
    closeTab: db.prepare('DELETE FROM credit_tabs WHERE account = @account'),
    insertReservation:
      db.prepare(`INSERT INTO credit_reservations (id, account, amount, ref, state, created_at, expires_at)
      VALUES (@id, @account, CAST(@amount AS INTEGER), @ref, 'held', @now, @expiresAt)`),
    reservationById: db.prepare(
      'SELECT id, account, CAST(amount AS TEXT) AS amount, state, expires_at FROM credit_reservations WHERE id = ?',
    ),
    reservationByRef: db.prepare(
      'SELECT id, account, CAST(amount AS TEXT) AS amount, state, expires_at FROM credit_reservations WHERE ref = ?',
    ),
    extendReservation: db.prepare(
      "UPDATE credit_reservations SET expires_at = @expiresAt WHERE id = @id AND state = 'held' AND expires_at < @expiresAt",
    ),
    settleReservation: db.prepare(`UPDATE credit_reservations
      SET state = @to, captured = CAST(@captured AS INTEGER), reason = @reason, settled_at = @now
      WHERE id = @id AND state = 'held'`),
    expired: db.prepare(
      "SELECT id FROM credit_reservations WHERE state = 'held' AND expires_at <= ? ORDER BY expires_at LIMIT ?",
    ),
    entries:
      db.prepare(`SELECT e.id, e.transaction_id, e.account, CAST(e.amount AS TEXT) AS amount, t.kind, t.ref, t.note, e.created_at
      FROM credit_entries e JOIN credit_transactions t ON t.id = e.transaction_id
      WHERE e.account IN (?, ?) ORDER BY e.id DESC LIMIT ?`),
    insertToken: db.prepare('INSERT INTO credit_tokens (hash, account, created_at) VALUES (@hash, @account, @now)'),
    token: db.prepare('SELECT account FROM credit_tokens WHERE hash = ?'),
    deleteToken: db.prepare('DELETE FROM credit_tokens WHERE hash = @hash'),
    deleteTokensOf: db.prepare('DELETE FROM credit_tokens WHERE account = ?'),
    dataVersion: db.prepare('PRAGMA data_version') as unknown as { get(): { data_version: number } | undefined },
  }
}
