import { createFacilitator } from '@402x/facilitator'
import { describe, expect, it } from 'vitest'
import { explainGasKeyError, gasKeysFromEnv } from './gasKeysFromEnv.js'

const keyA = '0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d'
const keyB = '0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a'

describe('gasKeysFromEnv', () => {
  it('reads X402_GAS_KEYS comma-separated, else X402_FACILITATOR_PRIVATE_KEY', () => {
    expect(gasKeysFromEnv({ X402_GAS_KEYS: ` ${keyA}, ${keyB},` })).toEqual({
      keys: [keyA, keyB],
      variable: 'X402_GAS_KEYS',
    })
    expect(gasKeysFromEnv({ X402_FACILITATOR_PRIVATE_KEY: keyA })).toEqual({
      keys: [keyA],
      variable: 'X402_FACILITATOR_PRIVATE_KEY',
    })
    expect(gasKeysFromEnv({})).toBeUndefined()
  })

  it('refuses both variables at once', () => {
    expect(() => gasKeysFromEnv({ X402_GAS_KEYS: keyA, X402_FACILITATOR_PRIVATE_KEY: keyB })).toThrow(
      /both X402_GAS_KEYS and X402_FACILITATOR_PRIVATE_KEY are set/,
    )
  })

  it('restates a bad key in terms of the variable, never showing the key', () => {
    const bad = `0x${'ab'.repeat(31)}`
    const gas = gasKeysFromEnv({ X402_GAS_KEYS: `${keyA},${bad}` })!
    let error: unknown
    try {
      createFacilitator({ chains: [{ network: 'eip155:84532', rpcUrl: 'http://127.0.0.1:9' }], gasWallets: gas.keys })
    } catch (e) {
      error = explainGasKeyError(e, gas.variable)
    }
    expect(error).toMatchObject({ code: 'invalid_config', details: { option: 'X402_GAS_KEYS', index: 1 } })
    expect((error as Error).message).toMatch(
      /^X402_GAS_KEYS: gas wallet key 1 \(X402_GAS_KEYS entry 1, counted from 0\)/,
    )
    expect((error as Error).message).not.toContain('abab')
  })
})
