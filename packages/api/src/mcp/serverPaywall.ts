import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { createPaywall, type Paywall } from '../paywall/createPaywall.js'

const paywalls = new WeakMap<McpServer, Paywall>()

/**
 * The paywall of the server's paid tools that were given none: one per server, configured
 * from the environment (as `x402Middleware` is), so that its tools share one ledger; closed
 * when the server closes.
 */
export function serverPaywall(server: McpServer): Paywall {
  let paywall = paywalls.get(server)
  if (paywall) return paywall
  paywall = createPaywall({ routes: {} })
  paywalls.set(server, paywall)
  const own = paywall
  const protocol = server.server
  const before = protocol.onclose
  protocol.onclose = () => {
    before?.()
    paywalls.delete(server)
    void own.close().catch(() => {})
  }
  return paywall
}
