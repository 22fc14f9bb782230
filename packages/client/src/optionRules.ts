import { type OptionRule, rule } from '@402x/core'
import type { Budget } from './budget.js'
import type { CreditsOptions, WrapFetchOptions } from './wrapFetch.js'

// The known keys of the client's options, tied to their types: a key added to a type and
// not here fails the type check. A misspelt budget limit would otherwise spend unbounded.

const dollars = rule.either('dollars: 0.05 or "0.05"', rule.number(), rule.string())
const strings = (expect: string) => rule.array(rule.string(), expect)

const budgetRules = {
  maxPerRequest: dollars,
  maxTotal: dollars,
  maxPerHost: dollars,
  maxPerDay: dollars,
  allowedHosts: strings('an array of hosts, e.g. ["api.example.com", "*.example.com"]'),
  allowedPayTo: strings('an array of 0x… addresses'),
} as const satisfies Record<keyof Budget, OptionRule>

const creditsRules = {
  topUp: dollars,
  when: dollars,
  tokens: rule.record(rule.string(), "an object of origin to token: { 'https://api.example.com': 'x402c_…' }"),
  onToken: rule.function('a function: (origin, token) => void'),
} as const satisfies Record<keyof CreditsOptions, OptionRule>

/** `wrapFetch(fetch, { … })`. */
export const wrapFetchRules = {
  wallet: rule.either(
    'a 0x… private key, or { privateKey }',
    rule.string(),
    rule.object({ privateKey: rule.string() }),
  ),
  budget: rule.object(budgetRules, 'an object: { maxPerRequest: 0.05, maxTotal: 5 }'),
  allowedAssets: rule.array(
    rule.object({ network: rule.string(), asset: rule.string() }),
    'an array of { network, asset }',
  ),
  onReceipt: rule.function('a function: (receipt) => void'),
  tracker: { expect: 'a budget tracker (createBudgetTracker(…))', test: (v) => typeof v === 'object' && v !== null },
  signIn: rule.boolean(),
  credits: rule.either('an object: { topUp: 1 }, or false', rule.object(creditsRules), rule.oneOf(false)),
} as const satisfies Record<keyof WrapFetchOptions, OptionRule>

/** `createX402Client({ … })`: the same, and the fetch to wrap. */
export const clientRules = {
  ...wrapFetchRules,
  fetch: rule.function('a fetch function'),
}
