import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { apiKeyLength, generateApiKey, hashApiKey, keyAccount, looksLikeApiKey, newKeyId } from './generateApiKey.js'

describe('API keys', () => {
  it('are x402_live_ / x402_test_ and 32 base62 characters, 42 in all', () => {
    expect(generateApiKey('live')).toMatch(/^x402_live_[0-9A-Za-z]{32}$/)
    expect(generateApiKey('test')).toMatch(/^x402_test_[0-9A-Za-z]{32}$/)
    expect(apiKeyLength).toBe(42)
    // 32 × log2(62) ≈ 190 bits: at least the 160 asked.
    expect(32 * Math.log2(62)).toBeGreaterThan(160)
  })

  it('are never the same, and use the whole alphabet evenly', () => {
    const keys = Array.from({ length: 2000 }, () => generateApiKey('live'))
    expect(new Set(keys).size).toBe(2000)
    const counts = new Map<string, number>()
    for (const key of keys) for (const c of key.slice(10)) counts.set(c, (counts.get(c) ?? 0) + 1)
    expect(counts.size).toBe(62)
    // 64,000 characters: about 1,032 each; a skewed draw (byte % 62 without rejection) gives
    // the first 8 characters about 25% more.
    for (const count of counts.values()) expect(Math.abs(count - 64_000 / 62)).toBeLessThan(200)
  })

  it('hash to the hex sha256 of the whole key', () => {
    const key = generateApiKey('test')
    expect(hashApiKey(key)).toBe(createHash('sha256').update(key).digest('hex'))
    expect(hashApiKey(key)).toMatch(/^[0-9a-f]{64}$/)
  })

  it('are told from malformed ones by form alone', () => {
    const key = generateApiKey('live')
    expect(looksLikeApiKey(key)).toBe(true)
    for (const bad of [
      key.slice(0, -1),
      `${key}a`,
      key.replace('x402_live_', 'x402_prod_'),
      key.replace('x402_live_', 'X402_LIVE_'),
      `${key.slice(0, -1)}-`,
      `${key.slice(0, -1)}_`,
      ` ${key.slice(1)}`,
      'x402c_abc',
      '',
      undefined,
      42,
    ])
      expect(looksLikeApiKey(bad)).toBe(false)
  })

  it('have ids key_… and their own credit account', () => {
    const id = newKeyId()
    expect(id).toMatch(/^key_[0-9A-Za-z]{20}$/)
    expect(keyAccount(id)).toBe(`key:${id}`)
  })
})
