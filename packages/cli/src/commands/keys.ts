import { parseArgs } from 'node:util'
import { X402Error } from '@402x/core'
import { adminCall, adminTarget } from '../adminClient.js'
import { withJsonErrors } from '../jsonErrors.js'
import { createUi } from '../ui.js'
import { printCreated, printList, printUsage } from './keysOutput.js'

export const keysUsage = `  402x keys create --plan free --name alice [--owner o] [--expires 30d] [--json]
      Issues an API key on a plan and prints it (once).
  402x keys list [--plan p] [--all] [--json]
      The keys (--all: revoked ones too).
  402x keys revoke <id> [--json]
  402x keys usage <id> [--from 2026-01-01] [--to 2026-02-01] [--json]
      Calls and dollars per route (default: this UTC month).
  402x keys grant <id> <dollars> [--ref id] [--json]
      Credit for a key's pay-as-you-go calls or overage; the same --ref grants once.
      All talk to the API's admin API: --url, else X402_API_URL, else the running 402x dev;
      --token, else X402_ADMIN_TOKEN, else the token of the 402x dev running in this folder.`

const usage = (why: string) => new X402Error('invalid_request', { message: `${why}\n\nUsage\n${keysUsage}` })

/**
 * `402x keys <create|list|revoke|usage|grant>`. With `--json`, the answer is one line of
 * JSON, and a failure too (`{ error, message }`, with the message on stderr and exit 1).
 */
export async function keys(args: string[]): Promise<number> {
  const [sub, ...rest] = args
  const json = rest.includes('--json')
  return withJsonErrors('keys', rest, () => run(sub, rest, json))
}

async function run(sub: string | undefined, rest: string[], json: boolean): Promise<number> {
  const subs = ['create', 'list', 'revoke', 'usage', 'grant']
  if (!sub || !subs.includes(sub)) throw usage(sub ? `unknown keys command "${sub}"` : 'give a keys command')
  // parseArgs would take `-1` for an unknown option; say what is wrong with it instead.
  const negative = sub === 'grant' ? rest.find((arg) => /^-[0-9.]/.test(arg)) : undefined
  if (negative !== undefined) {
    throw new X402Error('invalid_money', {
      message: `amount is ${negative}: grant more than 0 dollars, e.g. 402x keys grant <id> 5`,
    })
  }
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      plan: { type: 'string' },
      name: { type: 'string' },
      owner: { type: 'string' },
      expires: { type: 'string' },
      all: { type: 'boolean', default: false },
      from: { type: 'string' },
      to: { type: 'string' },
      ref: { type: 'string' },
      url: { type: 'string' },
      token: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  })
  const allowed: Record<string, string[]> = {
    create: ['plan', 'name', 'owner', 'expires'],
    list: ['plan', 'all'],
    revoke: [],
    usage: ['from', 'to'],
    grant: ['ref'],
  }
  const common = ['url', 'token', 'json']
  const stray = Object.keys(values).find(
    (name) => !common.includes(name) && !allowed[sub]?.includes(name) && values[name as keyof typeof values] !== false,
  )
  if (stray) throw usage(`--${stray} is not an option of keys ${sub}`)
  const target = adminTarget({ url: values.url, token: values.token })
  const ui = createUi({ json })
  const out = (answer: unknown) => process.stdout.write(`${JSON.stringify(answer)}\n`)
  const one = (what: string) => {
    const [id, ...extra] = positionals
    if (id === undefined || extra.length > 0) throw usage(`give one key id: 402x keys ${sub} <id>${what}`)
    return encodeURIComponent(id)
  }

  if (sub === 'create') {
    if (positionals.length > 0) throw usage(`unexpected "${positionals[0]}": create takes only options`)
    if (!values.plan || !values.name) throw usage('give --plan and --name: 402x keys create --plan free --name alice')
    const answer = await adminCall(target, 'POST', '/keys', {
      name: values.name,
      plan: values.plan,
      ...(values.owner !== undefined ? { owner: values.owner } : {}),
      ...(values.expires !== undefined ? { expiresIn: values.expires } : {}),
    })
    if (json) out(answer)
    else printCreated(ui, answer)
    return 0
  }
  if (sub === 'list') {
    if (positionals.length > 0) throw usage(`unexpected "${positionals[0]}": list takes only options`)
    const query = new URLSearchParams({
      ...(values.plan ? { plan: values.plan } : {}),
      ...(values.all ? { includeRevoked: '1' } : {}),
    }).toString()
    const answer = await adminCall(target, 'GET', `/keys${query ? `?${query}` : ''}`)
    if (json) out(answer)
    else printList(ui, answer)
    return 0
  }
  if (sub === 'revoke') {
    const answer = await adminCall(target, 'POST', `/keys/${one('')}/revoke`)
    const info = answer.info as { id: string; name: string }
    // An API of an earlier release answers neither field.
    const minted = Array.isArray(answer.minted) ? answer.minted.length : 0
    const tokens = typeof answer.creditTokens === 'number' ? answer.creditTokens : 0
    const plural = (n: number, one: string) => `${n} ${one}${n === 1 ? '' : 's'}`
    const withIt =
      minted + tokens > 0 ? `; with it ${plural(minted, 'key')} it minted, ${plural(tokens, 'credit token')}` : ''
    if (json) out(answer)
    else ui.done(`revoked ${info.id} "${info.name}": it is refused from now on (401 key_revoked)${withIt}`)
    return 0
  }
  if (sub === 'usage') {
    const id = one(' [--from] [--to]')
    const query = new URLSearchParams({
      ...(values.from ? { from: values.from } : {}),
      ...(values.to ? { to: values.to } : {}),
    }).toString()
    const answer = await adminCall(target, 'GET', `/keys/${id}/usage${query ? `?${query}` : ''}`)
    if (json) out(answer)
    else printUsage(answer)
    return 0
  }
  const [id, amount, ...extra] = positionals
  if (id === undefined || amount === undefined || extra.length > 0)
    throw usage('give a key id and dollars: 402x keys grant <id> 5')
  if (values.ref === '') throw usage('--ref is empty: give an id, or leave it out for a random one')
  const answer = await adminCall(target, 'POST', `/keys/${encodeURIComponent(id)}/credit`, {
    amount,
    ...(values.ref !== undefined ? { ref: values.ref } : {}),
  })
  const balance = answer.balance as { available: string }
  if (json) out(answer)
  else ui.done(`granted $${amount} to ${id}; available $${balance.available}`)
  return 0
}
