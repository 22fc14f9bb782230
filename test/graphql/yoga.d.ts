import type { Server } from 'node:http'

/** A Yoga server on Node's http, with these plugins; `dispose` closes them (the paywall). */
export function yogaServer(options: {
  typeDefs: string
  resolvers: Record<string, unknown>
  plugins: unknown[]
  batching?: boolean
}): { server: Server; dispose(): Promise<void> }
