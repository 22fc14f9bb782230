import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'
import { Agent } from 'undici'
import { type DecisionServiceOptions, decisionService } from '../gateway/decisionService.js'
import { nodeMiddleware } from '../node/nodeMiddleware.js'
import { schemeOf } from '../node/nodeRequest.js'
import { createPaywall, type Paywall } from '../paywall/createPaywall.js'
import type { ResolvedRoute } from '../paywall/resolvePaywall.js'
import { errorResponse } from '../paywall/responses.js'
import { forward, type Upstream } from './forward.js'
import { stripCallerHeaders } from './forwardHeaders.js'
import type { ProxyConfig } from './proxyConfig.js'
import { compileGuards, type RouteGuards } from './routeGuards.js'
import { passUpgrade } from './upgrade.js'

export type ProxyOptions = ProxyConfig & {
  /** The decision service the proxy also serves (`/__402x/decide`). */
  decisions?: DecisionServiceOptions
}

export type PayingProxy = {
  /** `http.createServer(proxy.listener)`. */
  listener: (req: IncomingMessage, res: ServerResponse) => void
  /** `server.on('upgrade', proxy.upgrade)`: WebSocket upgrades pass through on free routes. */
  upgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => void
  paywall: Paywall
  /**
   * Applies a changed file: its routes, upstreams, free paths and limits at once; a change
   * to another setting (payTo, stores …) needs a restart, and the keys returned name it.
   */
  reload(next: ProxyConfig): { restartNeeded: string[] }
  close(): Promise<void>
}

/** The settings a reload cannot apply to a running paywall (it holds their stores and clients). */
const fixedSettings = (config: ProxyConfig) => {
  const { routes: _routes, ...rest } = config.paywall as Record<string, unknown>
  return rest
}

/**
 * `402x proxy` as a library: the paywall in front of one or more upstream HTTP APIs. The
 * upstream is called only after the payment (or credit, key, plan) is verified; its 5xx,
 * a timeout or a cut answer charges nothing. Streams pass through with backpressure.
 *
 * @example
 * const proxy = createProxy(loadProxyConfig('402x.yaml'))
 * const server = http.createServer(proxy.listener).on('upgrade', proxy.upgrade).listen(4022)
 */
export function createProxy(options: ProxyOptions): PayingProxy {
  const { decisions, ...first } = options
  if (!first.upstream && Object.keys(first.upstreams).length === 0) {
    throw new Error('402x proxy needs an upstream: set upstream: http://127.0.0.1:8000 in the file, or pass --upstream')
  }
  const paywall = createPaywall(first.paywall)
  const service = decisionService(paywall, decisions)
  const guard = nodeMiddleware(paywall)
  const pools = new Map<string, Upstream>()
  const upstreamOf = (url: string): Upstream => {
    let pool = pools.get(url)
    if (!pool) {
      const parsed = new URL(url)
      pool = {
        origin: parsed.origin,
        host: parsed.host,
        agent: new Agent({ keepAliveTimeout: 10_000, connections: 256, pipelining: 1 }),
      }
      pools.set(url, pool)
    }
    return pool
  }

  let config = first
  let guards: RouteGuards = compileGuards(config, paywall.config.routes)
  const keyHeader = () => (paywall.config.keys ? (paywall.config.keys.header ?? 'x-api-key') : undefined)

  const send = (req: IncomingMessage, res: ServerResponse, route: ResolvedRoute | undefined) => {
    const name = route ? guards.upstreamOf.get(route) : undefined
    const url = name ? config.upstreams[name] : (config.upstream ?? Object.values(config.upstreams)[0])
    const priced = route !== undefined && !route.refusal
    return forward(req, res, upstreamOf(url as string), {
      hop: { ip: req.socket.remoteAddress, proto: schemeOf(req), keyHeader: keyHeader() },
      timeoutMs: config.timeoutMs,
      maxRequestBytes: config.maxRequestBytes,
      // Paid answers, metered streams too: a caller that reads slowly holds the upstream back
      // (backpressure), and none makes the proxy read more than this.
      maxResponseBytes: priced ? config.maxResponseBytes : undefined,
      // A metered answer that is not a stream is metered whole (its JSON `usage`); a
      // `meterWhole` route's answer is held whole by the paywall itself.
      whole: Boolean(route?.meter),
      metered: Boolean(route?.meter),
      includeUsage: priced && route.meter?.kind === 'tokens' && !route.meter.whole,
    })
  }

  const listener = (req: IncomingMessage, res: ServerResponse) => {
    if (service.handle(req, res)) return
    stripCallerHeaders(req)
    const target = req.url ?? '/'
    if (guards.isFree(req.method ?? 'GET', target)) return void send(req, res, undefined).catch(() => res.destroy())
    const route = paywall.match(req.method ?? 'GET', target)
    guard(req, res, (error) => {
      if (error)
        return refuse(
          res,
          errorResponse(500, 'internal_error', 'the proxy failed on this request; nothing was charged'),
        )
      send(req, res, route).catch(() => res.destroy())
    })
  }

  return {
    listener,
    upgrade(req, socket, head) {
      stripCallerHeaders(req)
      const target = req.url ?? '/'
      const method = req.method ?? 'GET'
      const priced = !guards.isFree(method, target) && paywall.match(method, target)
      if (priced) {
        const message =
          'this path is priced: a WebSocket upgrade passes through only on free routes (paid WebSocket streams: docs/proxy.md)'
        socket.end(
          `HTTP/1.1 402 Payment Required\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n${JSON.stringify({ error: 'payment_required', reason: 'payment_required', message })}`,
        )
        return
      }
      const url = config.upstream ?? (Object.values(config.upstreams)[0] as string)
      passUpgrade(req, socket, head, new URL(url), {
        ip: req.socket.remoteAddress,
        proto: schemeOf(req),
        keyHeader: keyHeader(),
      })
    },
    paywall,
    reload(next) {
      const restartNeeded = Object.keys({ ...fixedSettings(config), ...fixedSettings(next) }).filter(
        (key) => JSON.stringify(fixedSettings(config)[key]) !== JSON.stringify(fixedSettings(next)[key]),
      )
      const routes = next.paywall.routes ?? {}
      // Everything built first (the routes, the free paths, the upstreams), then the swap: a
      // bad file leaves the running config as it was, all of it.
      const resolved = Object.entries(routes).map(([source, route]) => paywall.config.resolveRoute(source, route))
      const nextConfig = { ...next, paywall: { ...config.paywall, routes } as ProxyConfig['paywall'] }
      const nextGuards = compileGuards(nextConfig, resolved)
      paywall.config.routes.splice(0, paywall.config.routes.length, ...resolved)
      config = nextConfig
      guards = nextGuards
      return { restartNeeded }
    },
    async close() {
      await service.close()
      await Promise.all([...pools.values()].map((pool) => pool.agent.close()))
      await paywall.close()
    },
  }
}

function refuse(res: ServerResponse, response: Response) {
  if (res.headersSent) return void res.destroy()
  res.writeHead(response.status, Object.fromEntries(response.headers))
  void response.text().then((text) => res.end(text))
}
