import { buildSchema, parse } from 'graphql'
import { describe, expect, it } from 'vitest'
import { createPriceCache } from './priceCache.js'
import { priceOperation } from './priceOperation.js'
import { resolvePricing } from './resolvePricing.js'

const schema = buildSchema(`
  type Post { id: ID! title: String }
  type Query { posts(first: Int): [Post!]! free: String }
`)
const pricing = resolvePricing({ 'Query.posts': 0.001, 'Post.title': 0.0001 }, ['first'], 6)

/** What the gate does: the cached price, else the walk's, kept. */
function pricer() {
  const cache = createPriceCache()
  let walks = 0
  const price = (document: ReturnType<typeof parse>, variables?: Record<string, unknown>) => {
    const known = cache.get(document, '', variables)
    if (known) return known.amount
    walks++
    const priced = priceOperation({ schema, document, variables, pricing })
    if (!priced) throw new Error('no operation')
    const { variables: read, ...rest } = priced
    return cache.set(document, '', variables, read, rest).amount
  }
  return { price, walks: () => walks }
}

describe('createPriceCache', () => {
  it('walks a document that reads no variable once, whatever the variables sent', () => {
    const { price, walks } = pricer()
    const document = parse('{ posts(first: 2) { title } }')
    expect(price(document)).toBe(2200n)
    expect(price(document, { first: 50 })).toBe(2200n)
    expect(walks()).toBe(1)
  })

  it('keys a price by the values of the variables it read', () => {
    const { price, walks } = pricer()
    const document = parse('query ($n: Int = 3) { posts(first: $n) { id } }')
    expect(price(document, { n: 1 })).toBe(1000n)
    expect(price(document, { n: 4 })).toBe(4000n)
    expect(price(document, { n: 1 })).toBe(1000n)
    // Not given: the operation's default; given as something else than a number: no multiplier.
    expect(price(document)).toBe(3000n)
    expect(price(document, { n: 'many' })).toBe(1000n)
    expect(price(document, { n: null })).toBe(1000n)
    // 1, 4, not given, and one walk for 'many' and null: neither is a number to multiply by.
    expect(walks()).toBe(4)
  })

  it('grows the key when a price reads a variable the others did not, and stays right', () => {
    const { price } = pricer()
    // With $on false the walk never reads $n; with it true it does.
    const document = parse('query ($on: Boolean!, $n: Int) { posts(first: $n) @include(if: $on) { title } free }')
    const asked: [Record<string, unknown>, bigint][] = [
      [{ on: false, n: 9 }, 0n],
      [{ on: true, n: 2 }, 2200n],
      [{ on: true, n: 3 }, 3300n],
      [{ on: false, n: 3 }, 0n],
      [{ on: true, n: 2 }, 2200n],
      [{ on: true }, 1100n],
    ]
    for (const [variables, amount] of asked) expect(price(document, variables)).toBe(amount)
  })

  it('keeps at most 64 prices for one operation, each still right', () => {
    const { price, walks } = pricer()
    const document = parse('query ($n: Int) { posts(first: $n) { id } }')
    for (let n = 1; n <= 100; n++) expect(price(document, { n })).toBe(BigInt(n) * 1000n)
    // The newest are kept, the oldest were dropped and are walked again.
    expect(price(document, { n: 100 })).toBe(100_000n)
    expect(walks()).toBe(100)
    expect(price(document, { n: 1 })).toBe(1000n)
    expect(walks()).toBe(101)
  })
})
