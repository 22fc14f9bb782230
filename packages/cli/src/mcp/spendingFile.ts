import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { X402Error } from '@402x/core'
import type { BudgetTracker, Receipt } from '402x-client'
import { z } from 'zod'

const LineSchema = z.object({
  url: z.string(),
  method: z.string(),
  amount: z.string().regex(/^\d{1,78}$/),
  price: z.string(),
  payTo: z.string(),
  payer: z.string(),
  network: z.string(),
  asset: z.string(),
  transaction: z.string(),
  status: z.enum(['settled', 'pending']),
  at: z.iso.datetime(),
  topUp: z.literal(true).optional(),
})

/**
 * The agent's spending kept in a file (one JSON receipt a line), so that `--max-per-day` and
 * `--max-total` hold across restarts: `load` reads the receipts of earlier runs and counts
 * them as spent in `tracker`; `record` appends each new one before its call is answered.
 *
 * @example
 * const file = spendingFile('.402x/mcp-spending.jsonl')
 * const earlier = file.load(client.fetch.tracker)
 */
export function spendingFile(path: string) {
  return {
    path,
    load(tracker: BudgetTracker): Receipt[] {
      if (!existsSync(path)) return []
      const receipts: Receipt[] = []
      const lines = readFileSync(path, 'utf8').split('\n')
      lines.forEach((line, n) => {
        if (line.trim() === '') return
        let parsed: ReturnType<typeof LineSchema.safeParse>
        try {
          parsed = LineSchema.safeParse(JSON.parse(line))
        } catch {
          parsed = LineSchema.safeParse(undefined)
        }
        if (!parsed.success) {
          // A budget that cannot be read is not guessed at: the earlier spending would go uncounted.
          throw new X402Error('invalid_config', {
            message: `${path}:${n + 1} is not a spending record of 402x mcp: fix or remove that line (or pass another --spending-file) so that earlier payments count against the budget`,
          })
        }
        const { amount, at, ...rest } = parsed.data
        const receipt = { ...rest, amount: BigInt(amount), at: new Date(at) } as Receipt
        receipts.push(receipt)
        tracker.spend({ amount: receipt.amount, host: new URL(receipt.url).host, day: at.slice(0, 10), until: 0 })
      })
      return receipts
    },
    record(receipt: Receipt): void {
      mkdirSync(dirname(path), { recursive: true })
      appendFileSync(
        path,
        `${JSON.stringify({ ...receipt, amount: receipt.amount.toString(), at: receipt.at.toISOString() })}\n`,
      )
    },
  }
}
