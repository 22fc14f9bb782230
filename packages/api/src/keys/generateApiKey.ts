import { hash, randomBytes } from 'node:crypto'
import type { KeyMode } from './types.js'

const base62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'
/** Random characters after the prefix: 32 of base62 are 190 bits. */
export const apiKeyRandomLength = 32
/** Every key's length: `x402_live_` (10) and 32 random characters. */
export const apiKeyLength = 10 + apiKeyRandomLength
const keyFormat = new RegExp(`^x402_(?:live|test)_[0-9A-Za-z]{${apiKeyRandomLength}}$`)

/**
 * `length` base62 characters from `crypto.randomBytes`, uniform: bytes of 248 and above are
 * drawn again (248 = 4 × 62), so that no character is likelier than another.
 */
export function randomBase62(length: number): string {
  let out = ''
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte >= 248) continue
      out += base62[byte % 62]
      if (out.length === length) break
    }
  }
  return out
}

/**
 * A new API key: `x402_live_` or `x402_test_` and 32 base62 characters (190 random bits),
 * 42 characters in all, URL-safe, no checksum. Give it to its owner once; store only
 * {@link hashApiKey}'s hash.
 *
 * @example
 * generateApiKey('test') // 'x402_test_4kQ9…' (42 characters)
 */
export function generateApiKey(mode: KeyMode): string {
  return `x402_${mode}_${randomBase62(apiKeyRandomLength)}`
}

/**
 * The key's sha256, lower-case hex: what a store keeps and looks up. A lookup hashes the
 * presented key, so comparing it leaks no timing about the stored secret.
 *
 * @example
 * hashApiKey('x402_test_…') // '9f86d0…' (64 hex characters)
 */
export function hashApiKey(key: string): string {
  // One-shot (no Hash object): the key lookup hashes every request's key.
  return hash('sha256', key, 'hex')
}

/**
 * Whether `value` has an API key's form (prefix, length, alphabet), so that a malformed key is
 * refused without a store lookup.
 *
 * @example
 * looksLikeApiKey(generateApiKey('live')) // true
 * looksLikeApiKey('x402_live_short') // false
 */
export function looksLikeApiKey(value: unknown): value is string {
  return typeof value === 'string' && value.length === apiKeyLength && keyFormat.test(value)
}

/** A key id: `key_` and 20 base62 characters, safe to show and log. */
export const newKeyId = () => `key_${randomBase62(20)}`

/** The credit account of a key (pay-as-you-go plans draw from it). */
export const keyAccount = (id: string) => `key:${id}`
