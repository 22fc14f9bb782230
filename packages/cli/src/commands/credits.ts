import { parseArgs } from 'node:util'
import { X402Error } from '@402x/core'
import { withJsonErrors } from '../jsonErrors.js'
import { creditsAdjust } from './creditsAdjust.js'
import { creditsBalance } from './creditsBalance.js'
import { creditsGrant } from './creditsGrant.js'

export const creditsUsage = `  402x credits grant <dollars> [--token x402c_…] [--ref id] [--note text] [--ledger path] [--json]
      Gives prepaid credit. Without --token, opens an account and prints its token (once).
      The same --ref, token and amount grant once.
  402x credits balance --token x402c_… [--limit 10] [--ledger path] [--json]
      Available and reserved credit, and the latest entries.
      Both work on the ledger file: --ledger, else X402_DATABASE_URL, else .402x/ledger.db.
  402x credits adjust <account> <±dollars> --reason text [--ref id] [--json]
      Corrects an account's credit (-2.50 takes back; never below zero), the reason in the ledger;
      the same --ref adjusts once. Through the admin API: --url, else X402_API_URL, else 402x dev;
      --token, else X402_ADMIN_TOKEN, else the token of the 402x dev running in this folder.`

const usage = (why: string) => new X402Error('invalid_request', { message: `${why}\n\nUsage\n${creditsUsage}` })

/**
 * `402x credits <grant|balance>`. With `--json`, a failure is one line of JSON on stdout
 * (`{ error, message }`) as well as the message on stderr and exit code 1.
 */
export async function credits(args: string[]): Promise<number> {
  const [sub, ...rest] = args
  return withJsonErrors('credits', rest, () => run(sub, rest))
}

function run(sub: string | undefined, rest: string[]): Promise<number> {
  if (sub === 'adjust') return creditsAdjust(rest)
  if (sub !== 'grant' && sub !== 'balance') {
    throw usage(sub ? `unknown credits command "${sub}"` : 'give a credits command')
  }
  // parseArgs would take `-1` for an unknown option; say what is wrong with it instead.
  const negative = sub === 'grant' ? rest.find((arg) => /^-[0-9.]/.test(arg)) : undefined
  if (negative !== undefined) {
    throw new X402Error('invalid_money', {
      message: `amount is ${negative}: grant more than 0 dollars, e.g. 402x credits grant 5`,
    })
  }
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      token: { type: 'string' },
      ref: { type: 'string' },
      note: { type: 'string' },
      limit: { type: 'string' },
      ledger: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  })
  const stray = (sub === 'grant' ? (['limit'] as const) : (['ref', 'note'] as const)).find(
    (name) => values[name] !== undefined,
  )
  if (stray) throw usage(`--${stray} is not an option of credits ${sub}`)
  const ledger = values.ledger !== undefined ? { ledger: values.ledger } : {}
  if (sub === 'grant') {
    const [amount, ...extra] = positionals
    if (amount === undefined || extra.length > 0)
      throw usage('give one amount in dollars: 402x credits grant 5 [--token x402c_…]')
    if (values.ref === '') throw usage('--ref is empty: give an id, or leave it out for a random one')
    return creditsGrant({
      amount,
      json: values.json,
      ...(values.token !== undefined ? { token: values.token } : {}),
      ...(values.ref !== undefined ? { ref: values.ref } : {}),
      ...(values.note !== undefined ? { note: values.note } : {}),
      ...ledger,
    })
  }
  if (positionals.length > 0) throw usage(`unexpected "${positionals[0]}": balance takes only options`)
  if (values.token === undefined) throw usage('give the account’s token: 402x credits balance --token x402c_…')
  const limit = Number(values.limit ?? '10')
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
    throw usage(`--limit is "${values.limit}": give a whole number from 1 to 1000`)
  return creditsBalance({ token: values.token, limit, json: values.json, ...ledger })
}
