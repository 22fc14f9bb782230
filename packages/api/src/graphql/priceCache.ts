import type { DocumentNode } from 'graphql'
import type { OperationPrice } from './priceOperation.js'

/** How many prices one operation of a document keeps (by the values of its variables). */
const perOperation = 64

type Entry<P> = {
  /** Every variable a price of this operation has read so far, in the order first read. */
  names: string[]
  /** By the values of `names` ({@link keyOf}). */
  prices: Map<string, P>
}

/**
 * Operation prices, kept with the parsed document they were computed from: Apollo and Yoga
 * cache parsed documents, so the same object comes back, and a price leaves with its
 * document (a `WeakMap`). Within a document, by operation name, then by the values of the
 * variables the price read (a multiplier's `$first`, an `@include(if: $x)`): at most
 * {@link perOperation} of them, the oldest dropped first. A price that read no variable is
 * one entry.
 *
 * The key is made of every variable any price of the operation read: two requests that agree
 * on all of them walk the document the same way (the walk reads nothing else), so they cost
 * the same. When a price reads a variable the others did not, the key grows and the entries
 * made with the shorter key are dropped.
 *
 * @example
 * const cache = createPriceCache()
 * cache.get(document, 'Top', { first: 10 }) ?? cache.set(document, 'Top', { first: 10 }, ['first'], price)
 */
export function createPriceCache<P extends OperationPrice = OperationPrice>() {
  const documents = new WeakMap<DocumentNode, Map<string, Entry<P>>>()
  return {
    get(document: DocumentNode, operation: string, variables: Variables): P | undefined {
      const entry = documents.get(document)?.get(operation)
      return entry?.prices.get(keyOf(entry.names, variables))
    },
    /** Keeps `price`, computed for `variables`, which read the variables `read`; returns it. */
    set(document: DocumentNode, operation: string, variables: Variables, read: readonly string[], price: P): P {
      let operations = documents.get(document)
      if (!operations) {
        operations = new Map()
        documents.set(document, operations)
      }
      let entry = operations.get(operation)
      if (!entry) {
        entry = { names: [...read], prices: new Map() }
        operations.set(operation, entry)
      }
      const { names } = entry
      const unseen = read.filter((name) => !names.includes(name))
      if (unseen.length > 0) {
        names.push(...unseen)
        entry.prices.clear()
      }
      const { prices } = entry
      if (prices.size >= perOperation) prices.delete(prices.keys().next().value as string)
      prices.set(keyOf(entry.names, variables), price)
      return price
    },
  }
}

type Variables = Readonly<Record<string, unknown>> | null | undefined

/**
 * The values of `names` as the price walk tells them apart: a number (a multiplier), a
 * boolean (`@skip`/`@include`), anything else, or not given (then the operation's default).
 */
function keyOf(names: readonly string[], variables: Variables): string {
  let key = ''
  for (const name of names) {
    if (!variables || !Object.hasOwn(variables, name)) key += 'a;'
    else {
      const value = variables[name]
      key += typeof value === 'number' ? `n${value};` : typeof value === 'boolean' ? `b${value};` : 'x;'
    }
  }
  return key
}
