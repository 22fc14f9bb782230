import { X402Error } from '@402x/core'

/**
 * The facilitator's gas wallet keys from the environment: `X402_GAS_KEYS` (comma-separated),
 * or `X402_FACILITATOR_PRIVATE_KEY` (its earlier name, also comma-separated); both set is
 * refused. `undefined` when neither is set. The keys themselves are checked by
 * `createFacilitator()` (see `explainGasKeyError`).
 */
export function gasKeysFromEnv(env: NodeJS.ProcessEnv): { keys: `0x${string}`[]; variable: string } | undefined {
  const split = (value: string) =>
    value
      .split(',')
      .map((k) => k.trim())
      .filter(Boolean) as `0x${string}`[]
  const pool = env.X402_GAS_KEYS?.trim()
  const single = env.X402_FACILITATOR_PRIVATE_KEY?.trim()
  if (pool && single) {
    throw new X402Error('invalid_config', {
      message:
        'both X402_GAS_KEYS and X402_FACILITATOR_PRIVATE_KEY are set: set the gas wallet keys once, in X402_GAS_KEYS=0x…,0x…, and unset X402_FACILITATOR_PRIVATE_KEY',
      details: { option: 'X402_GAS_KEYS' },
    })
  }
  if (pool) return { keys: split(pool), variable: 'X402_GAS_KEYS' }
  if (single) return { keys: split(single), variable: 'X402_FACILITATOR_PRIVATE_KEY' }
  return undefined
}

/** A bad key's `invalid_config` from `createFacilitator()`, restated in terms of the variable. */
export function explainGasKeyError(error: unknown, variable: string): unknown {
  if (!(error instanceof X402Error) || error.code !== 'invalid_config' || typeof error.details.index !== 'number') {
    return error
  }
  const message = error.message
    .replace(/^createFacilitator\(\): /, '')
    .replace(/`(gasWallets|privateKeys)\[(\d+)\]`/g, `${variable} entry $2, counted from 0`)
  return new X402Error('invalid_config', {
    message: `${variable}: ${message}`,
    details: { ...error.details, option: variable },
    cause: error,
  })
}
