// The locks store lives in `stores/`; this module keeps the paywall's imports as they were.
export { createMemoryLocks } from '../stores/createMemoryLocks.js'
export type { Locks } from '../stores/types.js'
