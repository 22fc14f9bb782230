// `402x-api/node`: plain Node `http`, and the Connect-style middleware other Node frameworks use.

export type { Next, NodeRequest } from './node/nodeMiddleware.js'
export { nodeMiddleware } from './node/nodeMiddleware.js'
export { rateLimit } from './node/rateLimit.js'
export { withX402 } from './node/withX402.js'
