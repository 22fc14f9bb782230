import { readFileSync } from 'node:fs'
import { X402Error } from '@402x/core'
import { isMap, isScalar, LineCounter, parseDocument } from 'yaml'
import { plans } from '../keys/plans.js'
import { compileRoute } from '../paywall/routes.js'
import type { PaywallOptions, Price, RouteOptions } from '../paywall/types.js'
import { type ProxyRoute, toRouteOptions } from './proxyRoutes.js'

/** `402x.yaml` (docs/proxy.md): the middleware's settings, its routes, and where to send them. */
export type ProxyConfig = {
  /** Where requests go: the default upstream. */
  upstream: string | undefined
  /** More upstreams by name, for routes that name one (`upstream: llm`). */
  upstreams: Record<string, string>
  /** Each route's upstream name (`undefined`: the default), by its routes-table key. */
  routeUpstreams: Record<string, string | undefined>
  /** Paths served free before anything is priced (`free: ['GET /health']`). */
  free: string[]
  /** The paywall's options: every setting of the middleware, the routes included. */
  paywall: PaywallOptions
  /** How long the upstream may take to answer its head, in ms. @default 30000 */
  timeoutMs: number
  /** The largest request body sent on, in bytes (413 past it). @default 10 MiB */
  maxRequestBytes: number
  /** The largest paid response held while it settles, in bytes (502 past it). @default 50 MiB */
  maxResponseBytes: number
}

/** The top-level keys the proxy reads itself; every other one is the middleware's. */
const proxyKeys = ['upstream', 'upstreams', 'free', 'timeoutMs', 'maxRequestBytes', 'maxResponseBytes', 'routes']
/** The middleware's settings a YAML file can hold (functions cannot be written in YAML). */
const paywallKeys = [
  'rateLimit',
  'payTo',
  'network',
  'asset',
  'accepts',
  'facilitator',
  'ledger',
  'stores',
  'credits',
  'keys',
  'discovery',
  'publicUrl',
  'adminToken',
  'trackingHeaders',
  'reconcileIntervalMs',
]

/** A mistake in the file, with its line: `402x.yaml:7: routes."GET /x": …`. */
const configError = (file: string, line: number | undefined, message: string) =>
  new X402Error('invalid_config', { message: `${file}${line ? `:${line}` : ''}: ${message}` })

/** Reads and checks a `402x.yaml` (or JSON) file; throws `invalid_config` naming the line. */
export function loadProxyConfig(path: string): ProxyConfig {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (error) {
    throw new X402Error('invalid_config', {
      message: `cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? error}): pass --config with the path of your 402x.yaml`,
    })
  }
  return parseProxyConfig(text, path)
}

/** Checks a `402x.yaml`'s text; `file` names it in errors. */
export function parseProxyConfig(text: string, file = '402x.yaml'): ProxyConfig {
  const lines = new LineCounter()
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true })
  const lineOf = (offset: number | undefined) => (offset === undefined ? undefined : lines.linePos(offset).line)
  const first = doc.errors[0]
  if (first) throw configError(file, lineOf(first.pos[0]), `not valid YAML: ${first.message.split('\n')[0]}`)
  /** The line of the value at `path`, or of its key. */
  const at = (path: (string | number)[]) => {
    const node = doc.getIn(path, true) as { range?: [number, number] } | undefined
    return lineOf(node?.range?.[0])
  }
  const raw = doc.toJS() as unknown
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw) || !isMap(doc.contents)) {
    throw configError(file, 1, 'the file must be a map of settings: upstream, routes, payTo …')
  }
  const data = raw as Record<string, unknown>
  for (const key of Object.keys(data)) {
    if (!proxyKeys.includes(key) && !paywallKeys.includes(key)) {
      const keyNode = doc.contents.items.find((pair) => isScalar(pair.key) && pair.key.value === key)?.key as
        | { range?: [number, number] }
        | undefined
      throw configError(
        file,
        lineOf(keyNode?.range?.[0]),
        `"${key}" is not a setting: use ${[...proxyKeys, ...paywallKeys].join(', ')}`,
      )
    }
  }
  const url = (value: unknown, path: (string | number)[]) => {
    if (typeof value !== 'string' || !/^https?:\/\/[^/?#]+/.test(value)) {
      throw configError(file, at(path), `${path.join('.')} must be an http(s) URL such as http://127.0.0.1:8000`)
    }
    return value.replace(/\/+$/, '')
  }
  const upstream = data.upstream === undefined ? undefined : url(data.upstream, ['upstream'])
  const upstreams: Record<string, string> = {}
  if (data.upstreams !== undefined) {
    if (!isRecord(data.upstreams)) throw configError(file, at(['upstreams']), 'upstreams must be a map: name: URL')
    for (const [name, value] of Object.entries(data.upstreams)) upstreams[name] = url(value, ['upstreams', name])
  }
  const free = data.free === undefined ? [] : data.free
  if (!Array.isArray(free) || free.some((p) => typeof p !== 'string')) {
    throw configError(file, at(['free']), "free must be a list of paths: ['GET /health', '/public/*']")
  }
  free.forEach((source: string, i) => {
    try {
      compileRoute(source)
    } catch (error) {
      throw configError(file, at(['free', i]), `free[${i}]: ${(error as Error).message}`)
    }
  })
  const routes = data.routes ?? {}
  if (!isRecord(routes)) throw configError(file, at(['routes']), "routes must be a map: 'GET /api/data': 0.01")
  const table: Record<string, RouteOptions | Price> = {}
  const routeUpstreams: Record<string, string | undefined> = {}
  for (const [key, value] of Object.entries(routes)) {
    const where = (field?: string) => at(field ? ['routes', key, field] : ['routes', key])
    try {
      compileRoute(key)
    } catch (error) {
      throw configError(file, where(), `routes."${key}": ${(error as Error).message}`)
    }
    let route: ProxyRoute
    try {
      route = toRouteOptions(value)
    } catch (error) {
      const field = (error as { field?: string }).field
      throw configError(file, where(field), `routes."${key}": ${(error as Error).message}`)
    }
    if (route.upstream !== undefined && !(route.upstream in upstreams)) {
      throw configError(
        file,
        where('upstream'),
        `routes."${key}".upstream "${route.upstream}" is not in upstreams: add it (upstreams: { ${route.upstream}: http://… })`,
      )
    }
    table[key] = route.options
    routeUpstreams[key] = route.upstream
  }
  const number = (key: string, fallback: number) => {
    const value = data[key] ?? fallback
    if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
      throw configError(file, at([key]), `${key} must be a positive whole number`)
    }
    return value
  }
  const settings: Record<string, unknown> = {}
  for (const key of paywallKeys) if (data[key] !== undefined) settings[key] = data[key]
  if (settings.keys !== undefined) {
    try {
      settings.keys = keysOf(settings.keys)
    } catch (error) {
      throw configError(file, at(['keys']), `keys: ${(error as Error).message}`)
    }
  }
  return {
    upstream,
    upstreams,
    routeUpstreams,
    free: free as string[],
    // A proxy tells its upstream who called, unless the file says otherwise.
    paywall: { trackingHeaders: true, ...settings, routes: table } as PaywallOptions,
    timeoutMs: number('timeoutMs', 30_000),
    maxRequestBytes: number('maxRequestBytes', 10 * 1024 * 1024),
    maxResponseBytes: number('maxResponseBytes', 50 * 1024 * 1024),
  }
}

/**
 * `keys:` with its plans written as presets: `free`, `payAsYouGo`, or `{ preset: tiered,
 * name: pro, monthly: 50000 }` (the preset's settings overridden), or a plan in full.
 */
function keysOf(keys: unknown): unknown {
  if (!isRecord(keys) || !Array.isArray(keys.plans)) {
    throw new Error('give plans: keys: { plans: [free, payAsYouGo, { preset: tiered, name: pro, monthly: 50000 }] }')
  }
  const presets = plans as unknown as Record<string, (overrides?: Record<string, unknown>) => unknown>
  const names = Object.keys(plans).join(', ')
  return {
    ...keys,
    plans: keys.plans.map((plan, i) => {
      if (typeof plan === 'string') {
        if (!presets[plan]) throw new Error(`plans[${i}] "${plan}" is not a preset: use ${names}, or a plan in full`)
        return presets[plan]()
      }
      if (isRecord(plan) && typeof plan.preset === 'string') {
        const { preset, ...overrides } = plan
        if (!presets[preset]) throw new Error(`plans[${i}].preset "${preset}" is not a preset: use ${names}`)
        return presets[preset](overrides)
      }
      return plan
    }),
  }
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value)
