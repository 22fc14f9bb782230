import { parseArgs } from 'node:util'
import { X402Error } from '@402x/core'
import { adminCall, adminTarget } from '../adminClient.js'
import { withJsonErrors } from '../jsonErrors.js'

export const webhooksUsage = `  402x webhooks list [--json]
      The webhooks (code, 402x.config.json, admin), failing or not, deliveries pending.
  402x webhooks add <url> --events payment.settled,credit.topped_up [--secret whsec_…] [--json]
      Registers one (the URL checked against SSRF); prints its secret (made when not given).
  402x webhooks remove <id> [--json]
  402x webhooks deliveries [--status pending|delivered|failed] [--webhook id] [--limit 50] [--cursor c] [--json]
  402x webhooks replay <delivery-id> [--json]
      Sends a delivery again, with the same webhook-id. All through the admin API (--url, --token).`

const usage = (why: string) => new X402Error('invalid_request', { message: `${why}\n\nUsage\n${webhooksUsage}` })

type Hook = {
  id: string
  url: string
  events: string[]
  source: string
  failing: boolean
  lastError?: string
  pending: number
}
type Delivery = {
  id: string
  type: string
  status: string
  attempts: number
  nextAttemptAt: string
  lastError: string | null
}

/**
 * `402x webhooks <list|add|remove|deliveries|replay>` through the admin API. With `--json`
 * the answer is one line of JSON, and a failure too (`{ error, message }`, exit 1).
 */
export async function webhooks(args: string[]): Promise<number> {
  const [sub, ...rest] = args
  const json = rest.includes('--json')
  return withJsonErrors('webhooks', rest, () => run(sub, rest, json))
}

const allowed: Record<string, string[]> = {
  list: [],
  add: ['events', 'secret'],
  remove: [],
  deliveries: ['status', 'webhook', 'limit', 'cursor'],
  replay: [],
}

async function run(sub: string | undefined, rest: string[], json: boolean): Promise<number> {
  if (!sub || !allowed[sub]) throw usage(sub ? `unknown webhooks command "${sub}"` : 'give a webhooks command')
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      events: { type: 'string' },
      secret: { type: 'string' },
      status: { type: 'string' },
      webhook: { type: 'string' },
      limit: { type: 'string' },
      cursor: { type: 'string' },
      url: { type: 'string' },
      token: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  })
  const stray = Object.keys(values).find(
    (name) => !['url', 'token', 'json'].includes(name) && !allowed[sub]?.includes(name),
  )
  if (stray) throw usage(`--${stray} is not an option of webhooks ${sub}`)
  const target = adminTarget({ url: values.url, token: values.token })
  const print = (answer: unknown, text: string) =>
    process.stdout.write(json ? `${JSON.stringify(answer)}\n` : `${text}\n`)
  const one = (what: string) => {
    const [id, ...extra] = positionals
    if (id === undefined || extra.length > 0) throw usage(`give one ${what}: 402x webhooks ${sub} <${what}>`)
    return id
  }
  if (sub !== 'add' && sub !== 'remove' && sub !== 'replay' && positionals.length > 0)
    throw usage(`unexpected "${positionals[0]}": ${sub} takes only options`)

  if (sub === 'list') {
    const answer = await adminCall(target, 'GET', '/webhooks')
    const hooks = answer.webhooks as Hook[]
    const lines = hooks.map(
      (h) =>
        `${h.id}  ${h.url}  [${h.events.join(', ')}]  ${h.source}  ${h.failing ? `FAILING: ${h.lastError ?? ''}` : 'ok'}  pending ${h.pending}`,
    )
    print(
      answer,
      lines.length ? lines.join('\n') : 'no webhooks yet: 402x webhooks add https://… --events payment.settled',
    )
    return 0
  }
  if (sub === 'add') {
    const url = one('url')
    if (!values.events) throw usage('give --events, e.g. --events payment.settled,credit.topped_up (or --events "*")')
    const answer = await adminCall(target, 'POST', '/webhooks', {
      url,
      events: values.events
        .split(',')
        .map((e) => e.trim())
        .filter(Boolean),
      ...(values.secret !== undefined ? { secret: values.secret } : {}),
    })
    const hook = answer.webhook as Hook
    print(
      answer,
      `added ${hook.id} → ${hook.url}\nsecret ${answer.secret as string} (check each POST with it: verifyWebhook)`,
    )
    return 0
  }
  if (sub === 'remove') {
    const id = one('id')
    const answer = await adminCall(target, 'DELETE', `/webhooks/${encodeURIComponent(id)}`)
    print(answer, `removed ${id}: its pending deliveries will not be sent`)
    return 0
  }
  if (sub === 'deliveries') {
    const query = new URLSearchParams({
      ...(values.status ? { status: values.status } : {}),
      ...(values.webhook ? { webhook: values.webhook } : {}),
      ...(values.limit ? { limit: values.limit } : {}),
      ...(values.cursor ? { cursor: values.cursor } : {}),
    }).toString()
    const answer = await adminCall(target, 'GET', `/webhooks/deliveries${query ? `?${query}` : ''}`)
    const lines = (answer.deliveries as Delivery[]).map(
      (d) =>
        `${d.id}  ${d.type}  ${d.status}  attempts ${d.attempts}${d.status === 'pending' ? `  next ${d.nextAttemptAt}` : ''}${d.lastError ? `  ${d.lastError}` : ''}`,
    )
    if (answer.next) lines.push(`more: --cursor ${answer.next as string}`)
    print(answer, lines.length ? lines.join('\n') : 'no deliveries')
    return 0
  }
  const id = one('delivery-id')
  const answer = await adminCall(target, 'POST', `/webhooks/deliveries/${encodeURIComponent(id)}/replay`)
  print(answer, `${id} is pending again: it is sent at the next round`)
  return 0
}
