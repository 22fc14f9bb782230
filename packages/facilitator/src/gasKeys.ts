import { X402Error } from '@402x/core'
import type { Hex } from 'viem'
import { privateKeyToAddress } from 'viem/accounts'

const keyShape = /^0x[0-9a-fA-F]{64}$/

/**
 * The gas wallet keys of the facilitator's options, checked at start: at least one, each a
 * private key (0x and 64 hex digits, a valid secp256k1 scalar), no two the same. A fault is an
 * `invalid_config` that names the option and the index, and never the key itself (it would
 * end up in logs).
 */
export function gasKeysOf(options: { gasWallets?: readonly string[]; privateKeys?: readonly string[] }): Hex[] {
  if (options.gasWallets !== undefined && options.privateKeys !== undefined) {
    throw new X402Error('invalid_config', {
      message:
        'createFacilitator(): both `gasWallets` and `privateKeys` are given: pass the gas wallet keys once, as `gasWallets: ["0x…", …]`',
      details: { option: 'gasWallets' },
    })
  }
  const option = options.privateKeys !== undefined ? 'privateKeys' : 'gasWallets'
  const keys = options.gasWallets ?? options.privateKeys ?? []
  if (keys.length === 0) {
    throw new X402Error('invalid_config', {
      message:
        'the facilitator needs at least one gas wallet: pass `gasWallets: ["0x…"]` or set X402_GAS_KEYS=0x…,0x… (or X402_FACILITATOR_PRIVATE_KEY)',
      details: { option },
    })
  }
  const seen = new Map<string, number>()
  return keys.map((key, index) => {
    const name = `${option}[${index}]`
    let address: string | undefined
    if (typeof key === 'string' && keyShape.test(key)) {
      try {
        address = privateKeyToAddress(key as Hex)
      } catch {
        // Out of the curve's range (0, or at least its order): not a key.
      }
    }
    if (!address) {
      throw new X402Error('invalid_config', {
        message: `createFacilitator(): gas wallet key ${index} (\`${name}\`) is not a private key: give 0x and 64 hex digits (a secp256k1 key), e.g. from \`cast wallet new\``,
        details: { option: name, index },
      })
    }
    const earlier = seen.get(address)
    if (earlier !== undefined) {
      throw new X402Error('invalid_config', {
        message: `createFacilitator(): gas wallet keys ${earlier} and ${index} are the same key (wallet ${address}): two senders on one nonce sequence would collide; give each wallet once`,
        details: { option: name, index, duplicateOf: earlier, address },
      })
    }
    seen.set(address, index)
    return key as Hex
  })
}
