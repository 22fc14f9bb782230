import { buildSchema, parse } from 'graphql'
import { describe, expect, it } from 'vitest'
import { checkPricing } from './checkPricing.js'
import { fullyErrored } from './fullyErrored.js'
import type { GraphQLPricing } from './options.js'
import { priceOperation } from './priceOperation.js'
import { resolvePricing } from './resolvePricing.js'

const schema = buildSchema(`
  interface Node { id: ID! }
  type User implements Node { id: ID! name: String email: String posts(first: Int = 5): [Post!]! }
  type Post implements Node { id: ID! title: String body: String }
  union SearchResult = User | Post
  type Query {
    user(id: ID!): User
    users(first: Int, limit: Int): [User!]!
    posts(first: Int): [Post!]!
    node(id: ID!): Node
    search(q: String!): [SearchResult!]!
    free: String
  }
  type Mutation { createPost(title: String!): Post }
  type Subscription { postAdded: Post }
`)

const seed: GraphQLPricing = { Query: { user: 0.001, posts: 0.005 }, Mutation: { createPost: 0.01 } }

const price = (
  query: string,
  pricing: GraphQLPricing = seed,
  options: { multipliers?: string[]; variables?: Record<string, unknown>; operationName?: string } = {},
) => {
  const resolved = resolvePricing(pricing, options.multipliers ?? [], 6)
  checkPricing(resolved, schema)
  return priceOperation({
    schema,
    document: parse(query),
    pricing: resolved,
    variables: options.variables,
    operationName: options.operationName,
  })
}

describe('priceOperation', () => {
  it('prices the seed: the priced root fields selected, in atomic units', () => {
    expect(price('{ user(id: 1) { name } }')).toMatchObject({ amount: 1000n, pricedRoots: ['user'], kind: 'query' })
    expect(price('{ user(id: 1) { name } posts { title } }')?.amount).toBe(6000n)
    expect(price('mutation { createPost(title: "a") { id } }')).toMatchObject({ amount: 10_000n, kind: 'mutation' })
    expect(price('{ free }')).toMatchObject({ amount: 0n, pricedRoots: [] })
  })

  it('charges each alias, and a field selected twice under one response key once (as GraphQL resolves it)', () => {
    expect(price('{ a: user(id: 1) { name } b: user(id: 2) { name } }')?.amount).toBe(2000n)
    expect(price('{ user(id: 1) { name } user(id: 1) { email } }')?.amount).toBe(1000n)
  })

  it('follows fragments and inline fragments, and field prices by coordinate', () => {
    const pricing = { ...seed, 'User.email': 0.0005 }
    const query = `
      query { user(id: 1) { ...U ... on User { again: email } } }
      fragment U on User { email name }`
    expect(price(query, pricing)?.amount).toBe(2000n)
    // A field of an interface or union costs what its dearest possible type charges.
    expect(price('{ node(id: 1) { ... on User { email } } }', pricing)?.amount).toBe(500n)
    expect(price('{ search(q: "x") { ... on User { email } ... on Post { title } } }', pricing)?.amount).toBe(500n)
    expect(price('{ node(id: 1) { id } }', { 'User.id': 0.002, 'Post.id': 0.001 })?.amount).toBe(2000n)
  })

  it('prices a multiplier left out, null or from a variable not sent at the schema default, and at least once', () => {
    const pricing = { 'Query.users': 0.001, 'User.posts': 0.001 }
    const m = { multipliers: ['first'] }
    // User.posts(first: Int = 5): what GraphQL gives the resolver for a variable not sent.
    const notSent = 'query ($n: Int) { user(id: 1) { posts(first: $n) { title } } }'
    expect(price(notSent, pricing, m)).toMatchObject({ amount: 5000n, variables: ['n'] })
    expect(price(notSent, pricing, { ...m, variables: { n: null } })?.amount).toBe(5000n)
    expect(price(notSent, pricing, { ...m, variables: { n: 2 } })?.amount).toBe(2000n)
    expect(price('{ user(id: 1) { posts(first: null) { title } } }', pricing, m)?.amount).toBe(5000n)
    // No default in the schema: once.
    expect(price('query ($n: Int) { users(first: $n) { name } }', pricing, m)?.amount).toBe(1000n)
    // 0 costs one item: `first || 10` reads it as the default.
    expect(price('{ users(first: 0) { name } }', pricing, m)?.amount).toBe(1000n)
    expect(price('{ users(first: 2.5) { name } }', pricing, m)?.amount).toBe(3000n)
  })

  it('marks a priced field whose multiplier is negative, infinite or not a number as invalid (refused before it runs)', () => {
    const pricing = { 'Query.users': 0.001, 'Query.posts': 0.001 }
    const m = { multipliers: ['first'] }
    const negative = price('{ users(first: -1) { name } }', pricing, m)
    expect(negative?.invalid).toBe(
      'Query.users: `first` is -1, which does not say how many items to price: give a whole number ≥ 0',
    )
    const byVariable = 'query ($n: Int) { posts(first: $n) { title } }'
    expect(price(byVariable, pricing, { ...m, variables: { n: -5 } })?.invalid).toMatch(/^Query\.posts: `first` is -5/)
    expect(price(byVariable, pricing, { ...m, variables: { n: 'all' } })?.invalid).toMatch(/`first` is "all"/)
    expect(price(byVariable, pricing, { ...m, variables: { n: Number.POSITIVE_INFINITY } })?.invalid).toMatch(
      /Infinity/,
    )
    // A whole number as a string (a Long scalar) is a number.
    expect(price(byVariable, pricing, { ...m, variables: { n: '3' } })).toMatchObject({ amount: 3000n })
    expect(price(byVariable, pricing, { ...m, variables: { n: '3' } })?.invalid).toBeUndefined()
    // On a field that costs nothing, the argument is the resolver's business.
    expect(price('{ users(first: -1) { name } }', { 'Query.posts': 0.001 }, m)).toMatchObject({ amount: 0n })
    expect(price('{ users(first: -1) { name } }', { 'Query.posts': 0.001 }, m)?.invalid).toBeUndefined()
  })

  it('multiplies a field and everything under it by the arguments the seller names', () => {
    const pricing = { 'Query.users': 0.001, 'User.email': 0.0005 }
    expect(price('{ users(first: 10) { email } }', pricing, { multipliers: ['first', 'limit'] })?.amount).toBe(15_000n)
    expect(price('{ users(limit: 3) { name } }', pricing, { multipliers: ['first', 'limit'] })?.amount).toBe(3000n)
    // Without multipliers named, a list field is priced once.
    expect(price('{ users(first: 10) { email } }', pricing)?.amount).toBe(1500n)
    // From a variable, a variable's default, and the argument's default in the schema.
    const byVariable = 'query ($n: Int = 4) { users(first: $n) { email } }'
    expect(price(byVariable, pricing, { multipliers: ['first'], variables: { n: 2 } })?.amount).toBe(3000n)
    expect(price(byVariable, pricing, { multipliers: ['first'] })).toMatchObject({ amount: 6000n, variables: ['n'] })
    const nested = { 'Post.title': 0.001 }
    expect(price('{ user(id: 1) { posts { title } } }', nested, { multipliers: ['first'] })?.amount).toBe(5000n)
    // A field's own multiplier replaces the global list.
    const own = { Query: { users: { price: 0.001, multiplier: 'limit' } } }
    expect(price('{ users(first: 10, limit: 2) { name } }', own, { multipliers: ['first'] })?.amount).toBe(2000n)
  })

  it('prices every object of a priced type', () => {
    expect(price('{ users(first: 3) { name } }', { User: 0.0001 }, { multipliers: ['first'] })?.amount).toBe(300n)
  })

  it('keeps introspection free, and what @skip/@include leave out', () => {
    expect(price('{ __schema { types { name } } __type(name: "User") { name } }')?.amount).toBe(0n)
    expect(price('{ __typename user(id: 1) { __typename } }')?.amount).toBe(1000n)
    expect(
      price('query ($s: Boolean!) { user(id: 1) @skip(if: $s) { name } }', seed, { variables: { s: true } })?.amount,
    ).toBe(0n)
    expect(price('{ user(id: 1) @include(if: false) { name } posts { id } }')?.amount).toBe(5000n)
  })

  it('picks the named operation', () => {
    const doc = 'query A { user(id: 1) { name } } query B { posts { id } }'
    expect(price(doc, seed, { operationName: 'B' })?.amount).toBe(5000n)
    expect(price(doc)).toBeUndefined()
  })
})

describe('pricing checks', () => {
  it('refuses names the schema does not have, and prices that are not dollars', () => {
    expect(() => price('{ free }', { Query: { usr: 0.001 } })).toThrow(/Query has no field usr/)
    expect(() => price('{ free }', { Usr: 0.001 })).toThrow(/no type Usr/)
    expect(() => price('{ free }', { SearchResult: 0.001 })).toThrow(/not an object or interface type/)
    expect(() => price('{ free }', { 'Query.users': { price: 0.001, multiplier: 'count' } })).toThrow(
      /no such argument/,
    )
    expect(() => resolvePricing({ Query: { user: 'a lot' } }, [], 6)).toThrow(/not a valid amount/)
    expect(() => resolvePricing({ Query: { user: 0.0000001 } }, [], 6)).toThrow(/at most 6 decimals/)
  })
})

describe('fullyErrored', () => {
  it('is true without data, or when every priced root field failed; partial errors are served', () => {
    expect(fullyErrored(['user'], { errors: [{ message: 'x', path: ['user'] }] })).toBe(true)
    expect(fullyErrored(['user'], { data: null })).toBe(true)
    expect(fullyErrored(['user'], { data: { user: null }, errors: [{ message: 'x', path: ['user'] }] })).toBe(true)
    const partial = { data: { user: { email: null } }, errors: [{ message: 'x', path: ['user', 'email'] }] }
    expect(fullyErrored(['user'], partial)).toBe(false)
    const oneOfTwo = { data: { user: null, posts: [] }, errors: [{ message: 'x', path: ['user'] }] }
    expect(fullyErrored(['user', 'posts'], oneOfTwo)).toBe(false)
  })
})
