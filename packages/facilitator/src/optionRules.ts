import { type OptionRule, rule } from '@402x/core'
import type { FacilitatorOptions } from './createFacilitator.js'
import type { FacilitatorClientOptions } from './createFacilitatorClient.js'
import type { FacilitatorServerOptions } from './createFacilitatorServer.js'

// The known keys of the facilitator's options, tied to their types: a key added to a type
// and not here fails the type check. A misspelt `apiKey` would otherwise open the server.

const ms = (example: string): OptionRule => ({
  expect: `a number of milliseconds, e.g. ${example}`,
  test: (v) => typeof v === 'number' && Number.isFinite(v) && v >= 0,
})

export const facilitatorRules = {
  chains: rule.array(
    rule.object({ network: rule.string('a CAIP-2 network'), rpcUrl: rule.string('a JSON-RPC URL') }),
    "an array of { network, rpcUrl }, e.g. [{ network: 'eip155:84532', rpcUrl: 'https://sepolia.base.org' }]",
  ),
  gasWallets: rule.array(rule.string('a 0x… private key'), 'an array of 0x… private keys'),
  privateKeys: rule.array(rule.string('a 0x… private key'), 'an array of 0x… private keys'),
  outOfGasPauseMs: ms('30000'),
  receiptTimeoutMs: ms('30000'),
  stuckAfterMs: ms('5000'),
  rpcTimeoutMs: ms('10000'),
  confirmTimeoutMs: ms('10000'),
  resendIntervalMs: ms('5000'),
} as const satisfies Record<keyof FacilitatorOptions, OptionRule>

export const facilitatorServerRules = {
  facilitator: {
    expect: 'a facilitator (createFacilitator(…))',
    test: (v) => typeof v === 'object' && v !== null,
  },
  apiKey: rule.string('the key callers send as Authorization: Bearer …'),
  maxBodyBytes: {
    expect: 'a whole number of bytes, e.g. 65536',
    test: (v) => Number.isInteger(v) && (v as number) > 0,
  },
} as const satisfies Record<keyof FacilitatorServerOptions, OptionRule>

export const facilitatorClientRules = {
  url: rule.string('the URL of the facilitator, e.g. "https://x402.org/facilitator"'),
  apiKey: rule.string('the key sent as Authorization: Bearer …'),
  timeoutMs: ms('60000'),
} as const satisfies Record<keyof FacilitatorClientOptions, OptionRule>
