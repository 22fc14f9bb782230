import { watch } from 'node:fs'
import { createServer } from 'node:http'
import { basename, dirname, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { X402Error } from '@402x/core'
import { createProxy, loadProxyConfig, type ProxyConfig, parseProxyConfig } from '402x-api/proxy'
import { closeServer, listenWithFallback } from '../listen.js'
import { createUi } from '../ui.js'

export const proxyUsage = `  402x proxy --config 402x.yaml [--port 4022] [--host 127.0.0.1] [--token T] [--json]
  402x proxy --upstream http://127.0.0.1:8000 --route 'GET /api/data=0.01' [--route …] [--free 'GET /health']
      Puts any HTTP API behind prices (docs/proxy.md): the upstream is called only once the
      request is paid. Also serves the decision service. The file reloads when it changes.`

/**
 * `402x proxy`: the paywall in front of an upstream. Settings the file does not name come
 * from the environment and a running `402x dev`. With `--json`, one line: `{ url, upstream }`.
 */
export async function proxyCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      config: { type: 'string' },
      upstream: { type: 'string' },
      route: { type: 'string', multiple: true, default: [] },
      free: { type: 'string', multiple: true, default: [] },
      port: { type: 'string', default: '4022' },
      host: { type: 'string', default: '127.0.0.1' },
      token: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  })
  if (values.help) {
    process.stdout.write(`${proxyUsage}\n`)
    return 0
  }
  const ui = createUi({ json: values.json })
  const port = Number(values.port)
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new X402Error('invalid_request', { message: `--port ${values.port} is not a port: give 0 to 65535` })
  }
  const config = values.config ? loadProxyConfig(values.config) : fromFlags(values)
  const proxy = createProxy({ ...config, ...(values.token ? { decisions: { token: values.token } } : {}) })
  proxy.paywall.events.on('error', (error) => ui.warn(`proxy: ${(error as Error).message ?? error}`))
  const server = createServer(proxy.listener)
  server.on('upgrade', proxy.upgrade)
  const watcher = values.config ? watchConfig(values.config, proxy, ui) : undefined
  try {
    const bound = await listenWithFallback(server, port, values.host)
    const url = `http://${values.host}:${bound}`
    const upstream = config.upstream ?? Object.values(config.upstreams)[0]
    if (values.json) process.stdout.write(`${JSON.stringify({ url, upstream })}\n`)
    if (bound !== port && port !== 0) ui.warn(`port ${port} is taken: the proxy listens on ${bound} instead`)
    ui.done(`proxy ${url} → ${upstream}`)
    const routes = Object.entries(config.paywall.routes ?? {})
    for (const [route, price] of routes)
      ui.info(`  ${route}  ${typeof price === 'object' ? JSON.stringify(price) : `$${price}`}`)
    ui.info(
      `  pays ${proxy.paywall.config.payTo} on ${proxy.paywall.config.network}; other paths pass free.${values.config ? ` Watching ${values.config}.` : ''} Ctrl-C stops it.`,
    )
    await new Promise<void>((stop) => {
      process.once('SIGINT', stop)
      process.once('SIGTERM', stop)
    })
  } finally {
    watcher?.close()
    await closeServer(server)
    await proxy.close()
  }
  return 0
}

/** A config from `--upstream`, `--route 'GET /x=0.01'` and `--free`, checked as a file would be. */
function fromFlags(values: { upstream?: string | undefined; route: string[]; free: string[] }): ProxyConfig {
  if (!values.upstream) {
    throw new X402Error('invalid_request', {
      message: 'give --config 402x.yaml, or --upstream http://127.0.0.1:8000 with --route "GET /api/data=0.01"',
    })
  }
  const routes: Record<string, string> = {}
  for (const flag of values.route) {
    const at = flag.lastIndexOf('=')
    if (at < 1) {
      throw new X402Error('invalid_request', { message: `--route "${flag}": write it as "GET /api/data=0.01"` })
    }
    routes[flag.slice(0, at).trim()] = flag.slice(at + 1).trim()
  }
  return parseProxyConfig(JSON.stringify({ upstream: values.upstream, routes, free: values.free }), 'the command line')
}

/** Reloads the file when it changes; a bad file keeps the running config, and says why. */
function watchConfig(path: string, proxy: ReturnType<typeof createProxy>, ui: ReturnType<typeof createUi>) {
  let timer: NodeJS.Timeout | undefined
  const reload = () => {
    try {
      const { restartNeeded } = proxy.reload(loadProxyConfig(path))
      ui.done(`reloaded ${path}`)
      if (restartNeeded.length)
        ui.warn(`${restartNeeded.join(', ')} changed: restart 402x proxy to apply it (the rest is applied)`)
    } catch (error) {
      ui.warn(`${path} not reloaded, the running config stays: ${(error as Error).message}`)
    }
  }
  // The folder, not the file: editors that save by renaming a new file over it are seen too.
  const name = basename(path)
  return watch(dirname(resolve(path)), (_event, changed) => {
    if (changed !== null && changed !== name) return
    clearTimeout(timer)
    timer = setTimeout(reload, 100)
  })
}
