import { describe, expect, it } from 'vitest'
import { withoutCredentials } from './upgradeHead.js'

describe('withoutCredentials', () => {
  it('takes the x402 credentials off a target, leaving its path and other parameters as sent', () => {
    expect(withoutCredentials('/stream?room=1&x402-token=x402c_abc')).toBe('/stream?room=1')
    expect(withoutCredentials('/stream?x402-payment=eyJ4&x402-token=x402c_abc')).toBe('/stream')
    expect(withoutCredentials('/a/%2e%2e/b?x%32=1&x402%2Dtoken=x402c_abc&y=a+b')).toBe('/a/%2e%2e/b?x%32=1&y=a+b')
    expect(withoutCredentials('/stream')).toBe('/stream')
    expect(withoutCredentials('/stream?x402-tokens=keep&bad=%E0%A4%A')).toBe('/stream?x402-tokens=keep&bad=%E0%A4%A')
  })
})
