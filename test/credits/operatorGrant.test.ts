import { X402Error } from '@402x/core'
import { afterAll, describe, expect, it } from 'vitest'
import { offlinePaywalls } from '../helpers/offlinePaywalls.js'

const paywalls = offlinePaywalls('402x-grant-')
afterAll(() => paywalls.close())

describe('paywall.credits.grant', () => {
  it('refuses 0 and a grant above $1,000,000 with invalid_money, granting nothing', async () => {
    const paywall = paywalls.make({ price: 0.01 })
    const credits = paywall.credits!
    for (const [amount, message] of [
      [0, /grant more than 0 dollars/],
      [1_000_000.000001, /one grant gives at most \$1,000,000/],
      ['1000000000000', /one grant gives at most \$1,000,000/],
    ] as const) {
      const error = await credits.grant({ amount, ref: `g-${amount}` }).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(X402Error)
      expect((error as X402Error).code).toBe('invalid_money')
      expect((error as X402Error).message).toMatch(message)
    }
    const { token, balance } = await credits.grant({ amount: 1_000_000, ref: 'top' })
    expect(balance).toBe('1000000')
    expect(await credits.balance(token as string)).toEqual({ available: '1000000', reserved: '0' })
  })

  it('is idempotent by ref without a token: the same amount returns the first account, another is refused', async () => {
    const paywall = paywalls.make({ price: 0.01 })
    const credits = paywall.credits!
    const first = await credits.grant({ amount: 5, ref: 'welcome-bonus:alice' })
    expect(first).toMatchObject({ balance: '5', replayed: false })
    expect(first.token).toMatch(/^x402c_/)
    const again = await credits.grant({ amount: 5, ref: 'welcome-bonus:alice' })
    expect(again).toEqual({ account: first.account, balance: '5', replayed: true })
    expect(await credits.balance(first.token as string)).toEqual({ available: '5', reserved: '0' })
    // With the first token, the same ref and amount is a replay too.
    const withToken = await credits.grant({ amount: '5', token: first.token as string, ref: 'welcome-bonus:alice' })
    expect(withToken).toMatchObject({ account: first.account, balance: '5', replayed: true })
    const other = await credits.grant({ amount: 6, ref: 'welcome-bonus:alice' }).catch((e: unknown) => e)
    expect(other).toBeInstanceOf(X402Error)
    expect((other as X402Error).code).toBe('invalid_request')
    expect((other as X402Error).message).toContain('already used for a grant of $5')
    expect(await credits.balance(first.token as string)).toEqual({ available: '5', reserved: '0' })
  })
})
