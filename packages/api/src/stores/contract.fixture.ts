import { afterEach } from 'vitest'
/**
 * What a contract suite is given: a backend opened fresh for each case, seen through two
 * handles (two connections, or two processes' views). A memory store gives the same object
 * twice; a SQLite store two connections on one file.
 */
export type Backend<T> = { a: T; b: T; close(): Promise<void> }
export type OpenBackend<T> = () => Backend<T> | Promise<Backend<T>>

/** `count` calls of `fn` started at once, split over the two handles. */
export const atOnce = <T, R>(backend: Backend<T>, count: number, fn: (store: T, i: number) => Promise<R>) =>
  Promise.all(Array.from({ length: count }, (_, i) => fn(i % 2 ? backend.b : backend.a, i)))

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Opens a fresh backend per test (call inside a `describe`): the returned function opens
 * it, and each is closed after its test.
 */
export function freshBackends<T>(open: OpenBackend<T>): () => Promise<Backend<T>> {
  let backend: Backend<T> | undefined
  afterEach(async () => {
    await backend?.close()
    backend = undefined
  })
  return async () => {
    backend = await open()
    return backend
  }
}
