import { parseArgs } from 'node:util'
import { X402Error } from '@402x/core'
import { adminCall, adminTarget } from '../adminClient.js'
import { withJsonErrors } from '../jsonErrors.js'
import { createUi } from '../ui.js'

export const paymentsUsage = `  402x payments [--payer 0x…] [--state settled] [--resource /api/x] [--from 2026-01-01] [--to 2026-02-01] [--limit 50] [--cursor c] [--json]
      The API's payments, newest first (--state: one or several, comma-separated);
      prints the --cursor of the next page when there is one.
  402x export --from 2026-11-01 --to 2026-12-01 [--kind payments] [--format csv] [-o file] [--payer 0x…] [--state settled] [--key key_…] [--json]
      The payments (--kind usage: the calls served on API keys, --key for one key's; credit: the
      credit spent and refunded; all: the three, CloudEvents only) of a period as CSV (a header row)
      or CloudEvents JSON lines (--format cloudevents), streamed to stdout or to -o file.
      Both talk to the API's admin API: --url, else X402_API_URL, else the running 402x dev;
      --token, else X402_ADMIN_TOKEN, else the token of the 402x dev running in this folder.`

const usage = (why: string) => new X402Error('invalid_request', { message: `${why}\n\nUsage\n${paymentsUsage}` })

type Payment = {
  id: string
  createdAt: string
  state: string
  payer: string
  amount: string
  resource: string
  transaction: string | null
}

/** `402x payments [filters] [--json]`: one page of `GET /__402x/admin/payments`. */
export function payments(args: string[]): Promise<number> {
  return withJsonErrors('payments', args, async () => {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        payer: { type: 'string' },
        state: { type: 'string' },
        resource: { type: 'string' },
        from: { type: 'string' },
        to: { type: 'string' },
        limit: { type: 'string' },
        cursor: { type: 'string' },
        url: { type: 'string' },
        token: { type: 'string' },
        json: { type: 'boolean', default: false },
      },
    })
    if (positionals.length > 0) throw usage(`unexpected "${positionals[0]}": payments takes only options`)
    const query = new URLSearchParams()
    for (const name of ['payer', 'state', 'resource', 'from', 'to', 'limit', 'cursor'] as const) {
      const value = values[name]
      if (value !== undefined) query.set(name, value)
    }
    const target = adminTarget({ url: values.url, token: values.token })
    const answer = await adminCall(target, 'GET', `/payments${query.size ? `?${query}` : ''}`)
    if (values.json) {
      process.stdout.write(`${JSON.stringify(answer)}\n`)
      return 0
    }
    const ui = createUi({ json: false })
    const list = answer.payments as Payment[]
    if (list.length === 0) {
      ui.info('no payments match: pay one with 402x pay <url>, or widen the filters')
      return 0
    }
    const rows = list.map((p) => [
      p.createdAt.replace('T', ' ').slice(0, 19),
      p.state,
      `$${p.amount}`,
      p.payer,
      new URL(p.resource).pathname,
      p.transaction ?? '-',
      p.id,
    ])
    const head = ['TIME (UTC)', 'STATE', 'AMOUNT', 'PAYER', 'PATH', 'TRANSACTION', 'ID']
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)))
    const line = (cells: string[]) =>
      cells
        .map((c, i) => c.padEnd(widths[i] as number))
        .join('  ')
        .trimEnd()
    process.stdout.write(`${[line(head), ...rows.map(line)].join('\n')}\n`)
    if (typeof answer.next === 'string') ui.info(ui.dim(`more: 402x payments … --cursor ${answer.next}`))
    return 0
  })
}
