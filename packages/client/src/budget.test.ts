import { describe, expect, it } from 'vitest'
import { type BudgetExceededError, createBudgetTracker } from './budget.js'

describe('budget tracker', () => {
  it('checks every limit before holding, and names the limit and the excess', () => {
    const budget = createBudgetTracker({
      maxPerRequest: 0.05,
      maxTotal: 0.1,
      maxPerHost: 0.08,
      allowedHosts: ['*.example.com'],
    })
    const until = Date.now() + 60_000
    const a = budget.hold(50_000n, 'api.example.com', '0x1', until)
    budget.spend(a)
    expect(() => budget.hold(60_000n, 'api.example.com', '0x1', until)).toThrow('maxPerRequest')
    const error = (() => {
      try {
        budget.hold(40_000n, 'api.example.com', '0x1', until)
      } catch (e) {
        return e as BudgetExceededError
      }
      return undefined
    })()
    expect(error?.limit).toBe('maxPerHost')
    expect(error?.message).toContain('over by $0.01')
    expect(() => budget.hold(1n, 'evil.test', '0x1', until)).toThrow('allowedHosts')
  })

  it('releases a refused payment, and counts a hold whose outcome never came as spent once it expires', () => {
    const budget = createBudgetTracker({ maxPerRequest: 1, maxTotal: 1 })
    const refused = budget.hold(300_000n, 'h', '0x1', Date.now() + 60_000)
    expect(budget.held()).toBe(300_000n)
    budget.release(refused)
    expect(budget.held()).toBe(0n)
    expect(budget.spent()).toBe(0n)
    budget.hold(200_000n, 'h', '0x1', Date.now() - 1)
    expect(budget.spent()).toBe(200_000n)
    expect(() => budget.hold(900_000n, 'h', '0x1', Date.now() + 60_000)).toThrow('maxTotal')
  })
})
