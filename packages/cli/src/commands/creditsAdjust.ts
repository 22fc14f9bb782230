import { parseArgs } from 'node:util'
import { X402Error } from '@402x/core'
import { adminCall, adminTarget } from '../adminClient.js'
import { createUi } from '../ui.js'

/**
 * `402x credits adjust <account> <±dollars> --reason text [--ref id] [--json]`: a signed
 * correction through the admin API (`POST /__402x/admin/credits/:account/adjust`), recorded
 * with its reason; never below zero; the same --ref adjusts once.
 */
export async function creditsAdjust(rest: string[]): Promise<number> {
  // A negative amount (`-2.50`) is a positional, not an option.
  const amountAt = rest.findIndex((arg) => /^[-+]?[0-9.]+$/.test(arg))
  const amount = amountAt >= 0 ? rest[amountAt] : undefined
  const others = rest.filter((_, i) => i !== amountAt)
  const { values, positionals } = parseArgs({
    args: others,
    allowPositionals: true,
    options: {
      reason: { type: 'string' },
      ref: { type: 'string' },
      url: { type: 'string' },
      token: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  })
  const [account, ...extra] = positionals
  if (!account || amount === undefined || extra.length > 0)
    throw new X402Error('invalid_request', {
      message:
        'give an account and a signed amount in dollars: 402x credits adjust acct_… -2.50 --reason "duplicate top-up"',
    })
  if (!values.reason)
    throw new X402Error('invalid_request', {
      message: '--reason is required: it is recorded in the ledger and shown in the statement',
    })
  const target = adminTarget({ url: values.url, token: values.token })
  const answer = await adminCall(target, 'POST', `/credits/${encodeURIComponent(account)}/adjust`, {
    amount: amount.replace(/^\+/, ''),
    reason: values.reason,
    ...(values.ref !== undefined ? { ref: values.ref } : {}),
  })
  if (values.json) {
    process.stdout.write(`${JSON.stringify(answer)}\n`)
    return 0
  }
  const ui = createUi({ json: false })
  ui.done(
    answer.replayed
      ? `ref ${answer.ref as string} was already applied: nothing moved; ${account} has $${answer.balance as string}`
      : `adjusted ${account} by $${answer.amount as string}: $${answer.balance as string} available`,
  )
  return 0
}
