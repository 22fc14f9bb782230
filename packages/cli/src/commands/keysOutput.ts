import type { Ui } from '../ui.js'

type Info = {
  id: string
  name: string
  plan: string
  owner?: string
  state: string
  start: string
  createdAt: number
  expiresAt?: number
}
const day = (ms: number | undefined) => (ms === undefined ? '-' : new Date(ms).toISOString().slice(0, 10))

/** `402x keys create`: the key on stdout (the one line to copy), the rest on stderr. */
export function printCreated(ui: Ui, answer: Record<string, unknown>): void {
  const info = answer.info as Info
  ui.done(
    `created key ${info.id} "${info.name}" on plan ${info.plan}${info.expiresAt ? `, expires ${day(info.expiresAt)}` : ''}`,
  )
  process.stdout.write(`${answer.key as string}\n`)
  ui.info(ui.dim('  the key above is shown once (only its hash is kept); callers send it as'))
  ui.info(ui.dim('  Authorization: Bearer <key>   (or X-API-Key: <key>)'))
}

/** `402x keys list`: one line per key. */
export function printList(ui: Ui, answer: Record<string, unknown>): void {
  const keys = answer.keys as Info[]
  if (keys.length === 0) {
    ui.info('no keys yet: create one with 402x keys create --plan <plan> --name <name>')
    return
  }
  const rows = keys.map((k) => [k.id, k.name, k.plan, k.state, `${k.start}…`, k.owner ?? '-', day(k.createdAt)])
  const head = ['ID', 'NAME', 'PLAN', 'STATE', 'KEY', 'OWNER', 'CREATED']
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)))
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] as number))
      .join('  ')
      .trimEnd()
  process.stdout.write(`${[line(head), ...rows.map(line)].join('\n')}\n`)
}

/** `402x keys usage`: calls, units and dollars per route, then the total. */
export function printUsage(answer: Record<string, unknown>): void {
  type Line = { route: string; calls: number; units: number; amount: string }
  const lines = answer.lines as Line[]
  const total = answer.total as Omit<Line, 'route'>
  const out = [`usage of ${answer.keyId as string} from ${answer.from as string} to ${answer.to as string}`]
  for (const l of lines) out.push(`  ${l.route.padEnd(32)} ${String(l.calls).padStart(8)} calls  $${l.amount}`)
  out.push(`  ${'total'.padEnd(32)} ${String(total.calls).padStart(8)} calls  $${total.amount}`)
  process.stdout.write(`${out.join('\n')}\n`)
}
