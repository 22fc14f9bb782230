import { X402Error } from '@402x/core'

/**
 * The private key in a `wallet` option, or an `invalid_config` error that says what was
 * given. `wallet: process.env.AGENT_KEY` with the variable unset is the usual mistake: it must
 * read as that, not as a `TypeError`.
 */
export function privateKeyOf(wallet: unknown): `0x${string}` {
  const key =
    typeof wallet === 'string'
      ? wallet
      : wallet && typeof wallet === 'object' && 'privateKey' in wallet
        ? (wallet as { privateKey: unknown }).privateKey
        : wallet
  if (key === undefined || key === null || key === '') {
    throw new X402Error('invalid_config', {
      message:
        "wallet is not set (it is empty or undefined; with `wallet: process.env.AGENT_KEY`, that variable is unset): pass the paying wallet's private key, `wallet: '0x…'`. For local tests, `402x dev` prints a funded buyer key (buyerPrivateKey in `402x dev --json`), and `x402Client` uses it by itself",
    })
  }
  if (typeof key !== 'string' || !/^0x[0-9a-fA-F]{64}$/.test(key)) {
    throw new X402Error('invalid_config', {
      message: `wallet must be a 0x-prefixed 32-byte private key (0x and 64 hex digits), got ${typeof key === 'string' ? `a string of ${key.length} characters` : typeof key}: pass \`wallet: '0x…'\` or set X402_PRIVATE_KEY=0x…`,
    })
  }
  return key as `0x${string}`
}
