import { type OptionRule, rule } from '@402x/core'
import type { PaidToolOptions } from './paidTool.js'

const object = (expect: string): OptionRule => ({
  expect,
  test: (v) => typeof v === 'object' && v !== null,
})

/** The known keys of `paidTool`'s options: a misspelt one stops start-up, never ignored. */
export const paidToolRules = {
  price: rule.either(
    'dollars (0.01 or "$0.01") or a function of the call',
    rule.number(),
    rule.string(),
    rule.function(),
  ),
  description: rule.string(),
  title: rule.string(),
  inputSchema: object('a zod object schema, or a shape of zod schemas: { city: z.string() }'),
  outputSchema: object('a zod object schema, or a shape of zod schemas'),
  annotations: object('MCP tool annotations: { readOnlyHint: true }'),
  _meta: object('an object'),
  paywall: {
    expect: 'a paywall (createPaywall({ routes: {}, … }))',
    test: (v) => typeof (v as { handle?: unknown } | null)?.handle === 'function',
  },
  maxTimeoutSeconds: rule.number('whole seconds from 10 to 86400, e.g. 60'),
} as const satisfies Record<keyof PaidToolOptions, OptionRule>
