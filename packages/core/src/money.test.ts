import { describe, expect, it } from 'vitest'
import { formatMoney, parseMoney } from './money.js'

describe('parseMoney', () => {
  it.each([
    [0.01, 10000n],
    ['0.01', 10000n],
    ['$0.01', 10000n],
    ['0.01 USDC', 10000n],
    ['$ 1.5 usd', 1500000n],
    [1, 1000000n],
    ['0.000001', 1n],
    ['1234567.123456', 1234567123456n],
    // A point at either end reads as a number literal does: the same rule both ways.
    ['5.', 5000000n],
    ['.5', 500000n],
    ['$.25', 250000n],
  ])('reads %j as %s atomic units', (input, atomic) => {
    expect(parseMoney(input)).toBe(atomic)
  })

  it.each([
    [-0.01, 'negative'],
    ['-1', 'negative'],
    [Number.NaN, 'not a finite number'],
    [Number.POSITIVE_INFINITY, 'not a finite number'],
    ['1e-3', 'exponent'],
    [1e21, 'exponent'],
    ['0.0000001', 'more than 6 decimals'],
    [0.1 + 0.2, 'more than 6 decimals'],
    ['abc', 'not a decimal number'],
    ['', 'not a decimal number'],
    ['0x10', 'not a decimal number'],
    ['.', 'not a decimal number'],
    ['$.', 'not a decimal number'],
    ['.e5', 'not a decimal number'],
  ])('rejects %j (%s) with a message that says what to do', (input, why) => {
    expect(() => parseMoney(input as number | string)).toThrow(why)
    expect(() => parseMoney(input as number | string)).toThrow('e.g. 0.01, "$0.01" or "0.01 USDC"')
  })

  it('rounds computed prices when asked, exactly', () => {
    expect(parseMoney(0.1 + 0.2, { rounding: 'half-up' })).toBe(300000n)
    expect(parseMoney('0.0000015', { rounding: 'half-up' })).toBe(2n)
    expect(parseMoney('0.0000014', { rounding: 'half-up' })).toBe(1n)
    expect(parseMoney('0.0000011', { rounding: 'up' })).toBe(2n)
    expect(parseMoney('0.0000019', { rounding: 'down' })).toBe(1n)
    expect(parseMoney(1e-7, { rounding: 'up' })).toBe(1n)
    expect(parseMoney(1.5e-5, { rounding: 'half-up' })).toBe(15n)
  })

  it('honours other decimals', () => {
    expect(parseMoney('1', { decimals: 18 })).toBe(10n ** 18n)
    expect(parseMoney('1.5', { decimals: 0, rounding: 'half-up' })).toBe(2n)
  })
})

describe('formatMoney', () => {
  it.each([
    [10000n, '0.01'],
    [1n, '0.000001'],
    [1500000n, '1.5'],
    [0n, '0'],
    [-25n, '-0.000025'],
  ])('formats %s as %s', (atomic, text) => {
    expect(formatMoney(atomic)).toBe(text)
    if (atomic >= 0n) expect(parseMoney(text)).toBe(atomic)
  })
})
