import { describe, expect, it } from 'vitest'
import { checkOptions, nearestKey, rule } from './checkOptions.js'

const shape = {
  price: rule.number('a price, e.g. 0.01'),
  rateLimit: rule.refused('`rateLimit` is not available yet'),
  credits: rule.either('an object, or false', rule.object({ path: rule.string() }), rule.oneOf(false)),
  routes: rule.record(rule.either('a price or { price }', rule.number(), rule.object({ price: rule.number() }))),
}
const check = (value: unknown) => () => checkOptions(value, shape, 'x402Middleware()')

describe('checkOptions', () => {
  it('accepts known keys of the right kind, and undefined values as not given', () => {
    expect(check({ price: 0.01, credits: false, routes: { 'GET /a': 0.01, 'GET /b': { price: 1 } } })).not.toThrow()
    expect(check({ price: undefined })).not.toThrow()
  })

  it('names an unknown key and the nearest known one (a slip, a swap, another case)', () => {
    expect(check({ rateLimt: 1 })).toThrow('x402Middleware(): `rateLimt` is not an option: did you mean `rateLimit`?')
    expect(check({ prcie: 1 })).toThrow('did you mean `price`?')
    expect(check({ RateLimit: 1 })).toThrow('did you mean `rateLimit`?')
  })

  it('lists the known keys when none is close', () => {
    expect(check({ bogusOption: 1 })).toThrow(
      '`bogusOption` is not an option; the known ones here are price, rateLimit, credits, routes',
    )
    expect(nearestKey('bogusOption', Object.keys(shape))).toBeUndefined()
  })

  it('checks nested objects and table entries, naming the path', () => {
    expect(check({ credits: { paht: 'x' } })).toThrow('`credits.paht` is not an option: did you mean `path`?')
    expect(check({ routes: { 'GET /a': { prise: 1 } } })).toThrow(
      '`routes["GET /a"].prise` is not an option: did you mean `price`?',
    )
  })

  it('says what to pass for a value of the wrong kind', () => {
    expect(check({ price: '0.01' })).toThrow('`price` is "0.01": give a price, e.g. 0.01')
    expect(check({ credits: true })).toThrow('`credits` is true: give an object, or false')
    expect(check({ routes: { 'GET /a': 'x' } })).toThrow('`routes["GET /a"]` is "x": give a price or { price }')
  })

  it('refuses a known option that is not honoured with its own message, never "did you mean"', () => {
    expect(check({ rateLimit: { maxRequests: 3 } })).toThrow('x402Middleware(): `rateLimit` is not available yet')
  })

  it('throws invalid_config naming the option', () => {
    try {
      check({ rateLimt: 1 })()
      expect.unreachable()
    } catch (error) {
      expect(error).toMatchObject({ code: 'invalid_config', details: { option: 'rateLimt' } })
    }
  })
})
