import { randomBytes } from 'node:crypto'
import {
  closeSync,
  fdatasyncSync,
  ftruncateSync,
  openSync,
  readdirSync,
  readFileSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs'
import { basename, dirname, join } from 'node:path'
import type { PaymentRecord } from './types.js'

/**
 * One line of a journal: a payment as first written (`p`), or a later change to it (`c`:
 * its state, `updatedAt` and the fields the change set).
 */
export type JournalEntry =
  | { p: PaymentRecord }
  | { c: Pick<PaymentRecord, 'id' | 'state' | 'updatedAt'> & Partial<PaymentRecord> }

/** A process's own journal file: the payments it acknowledged and has not yet written to SQLite. */
export type Journal = {
  /** Appends one entry in one `write` (and `fdatasync` with `full`) before returning. */
  append(entry: JournalEntry): void
  /** Empties the file, once every entry in it is in SQLite. */
  clear(): void
  /** Closes and removes the file (call once it is empty). */
  close(): void
}

/** A journal left more than this long with entries in it belongs to a process that stopped. */
const abandonedMs = 10 * 60_000

const prefixOf = (ledgerPath: string) => `${basename(ledgerPath)}-journal-`

/**
 * Opens a journal for this ledger instance beside the ledger's file, named after this
 * process (`ledger.db-journal-<pid>-<random>`), so a later process knows whose it was.
 */
export function openJournal(ledgerPath: string, full: boolean): Journal {
  const path = join(dirname(ledgerPath), `${prefixOf(ledgerPath)}${process.pid}-${randomBytes(4).toString('hex')}`)
  const fd = openSync(path, 'a')
  let open = true
  return {
    append: (entry) => {
      writeSync(fd, `${JSON.stringify(entry)}\n`)
      if (full) fdatasyncSync(fd)
    },
    clear: () => {
      ftruncateSync(fd, 0)
      if (full) fdatasyncSync(fd)
    },
    close: () => {
      if (!open) return
      open = false
      closeSync(fd)
      unlinkSync(path)
    },
  }
}

const alive = (pid: number) => {
  if (pid === process.pid) return true
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    // EPERM: the process exists under another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * The journals beside a ledger file whose process has ended (or that nobody has written for
 * ten minutes while they hold entries): their payments were acknowledged and must be
 * written to SQLite by whoever opens the ledger next.
 */
export function abandonedJournals(ledgerPath: string): string[] {
  const prefix = prefixOf(ledgerPath)
  const dir = dirname(ledgerPath)
  const found: string[] = []
  for (const name of readdirSync(dir)) {
    if (!name.startsWith(prefix)) continue
    const pid = Number(name.slice(prefix.length).split('-')[0])
    const path = join(dir, name)
    try {
      const stat = statSync(path)
      if (!alive(pid) || (stat.size > 0 && Date.now() - stat.mtimeMs > abandonedMs)) found.push(path)
    } catch {
      // Removed meanwhile by its owner or by another process's recovery.
    }
  }
  return found
}

/**
 * The payments in a journal, each as its entries leave it. A last line cut short by a crash
 * in the middle of its write was never acknowledged, and is skipped.
 */
export function readJournal(path: string): PaymentRecord[] {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch {
    return []
  }
  const payments = new Map<string, PaymentRecord>()
  for (const line of text.split('\n')) {
    if (!line) continue
    let entry: JournalEntry
    try {
      entry = JSON.parse(line) as JournalEntry
    } catch {
      continue
    }
    if ('p' in entry) payments.set(entry.p.id, entry.p)
    else {
      const payment = payments.get(entry.c.id)
      if (payment) payments.set(payment.id, { ...payment, ...entry.c })
    }
  }
  return [...payments.values()]
}

/** Removes a journal whose payments are in SQLite; one already removed is fine. */
export function removeJournal(path: string): void {
  try {
    unlinkSync(path)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
  }
}
