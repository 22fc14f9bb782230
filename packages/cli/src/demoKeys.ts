import type { PaywallKeys } from '402x-api'

/** A demo key of `402x dev`: `key` only when made in this run (a key is shown once). */
export type DemoKey = { plan: string; name: string; id: string; key?: string; credit?: string }

/** The credit the pay-as-you-go demo key gets, so that it works at once. */
const demoCredit = '1'

/**
 * One key per plan, named `demo-<plan>`: made once (the ledger in `.402x/` outlives a run),
 * then found again without its secret. The pay-as-you-go key gets $1 of credit when made.
 */
export async function ensureDemoKeys(keys: PaywallKeys, planNames: string[]): Promise<DemoKey[]> {
  const out: DemoKey[] = []
  for (const plan of planNames) {
    const name = `demo-${plan}`
    const existing = (await keys.list({ plan })).find((k) => k.name === name && k.state === 'active')
    if (existing) {
      out.push({ plan, name, id: existing.id })
      continue
    }
    const { key, info } = await keys.create({ name, plan, owner: '402x dev' })
    const made: DemoKey = { plan, name, id: info.id, key }
    if (plan === 'pay-as-you-go') {
      const { balance } = await keys.grant(info.id, { amount: demoCredit, ref: `demo-credit-${info.id}` })
      made.credit = balance
    }
    out.push(made)
  }
  return out
}

/** The ready block's lines about the demo keys, with a curl to try one. */
export function demoKeyLines(demoKeys: DemoKey[], url: string): string[] {
  const lines = demoKeys.map((k) =>
    k.key
      ? `  ${k.plan.padEnd(14)} ${k.key}${k.credit ? `  ($${k.credit} credit)` : ''}`
      : `  ${k.plan.padEnd(14)} ${k.name} (${k.id}) exists from an earlier run: its key was shown then; make another with 402x keys create --plan ${k.plan} --name you`,
  )
  const shown = demoKeys.find((k) => k.key)
  return [
    ...lines,
    `  curl -H "Authorization: Bearer ${shown?.key ?? 'x402_test_…'}" ${url}`,
    '  manage them: npx 402x keys list · npx 402x keys usage <id>',
  ]
}
