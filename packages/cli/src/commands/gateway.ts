import { createServer } from 'node:http'
import { parseArgs } from 'node:util'
import { X402Error } from '@402x/core'
import { createGateway } from '402x-api/gateway'
import { loadProxyConfig } from '402x-api/proxy'
import { closeServer, listenWithFallback } from '../listen.js'
import { createUi } from '../ui.js'

export const gatewayUsage = `  402x gateway [--config 402x.yaml] [--port 4023] [--host 127.0.0.1] [--token T] [--json]
      The decision service alone, for app servers in any language (Flask: python/):
      POST /__402x/decide and /__402x/finish (docs/decision-service.md). Prices come from
      each call's "route", else the routes of --config. --token: X402_GATEWAY_TOKEN.`

/**
 * `402x gateway`: the decision service with the paywall's own paths and no upstream.
 * Settings the file does not name come from the environment and a running `402x dev`.
 * With `--json`, one line: `{ url }`.
 */
export async function gatewayCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      config: { type: 'string' },
      port: { type: 'string', default: '4023' },
      host: { type: 'string', default: '127.0.0.1' },
      token: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  })
  if (values.help) {
    process.stdout.write(`${gatewayUsage}\n`)
    return 0
  }
  const ui = createUi({ json: values.json })
  const port = Number(values.port)
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new X402Error('invalid_request', { message: `--port ${values.port} is not a port: give 0 to 65535` })
  }
  const config = values.config ? loadProxyConfig(values.config) : undefined
  if (config && (config.upstream || Object.keys(config.upstreams).length > 0)) {
    throw new X402Error('invalid_config', {
      message: `${values.config} names an upstream: 402x gateway has none (it only decides); run 402x proxy --config ${values.config} to send requests on`,
    })
  }
  const gateway = createGateway({
    ...(config?.paywall ?? { routes: {} }),
    ...(values.token ? { decisions: { token: values.token } } : {}),
  })
  gateway.paywall.events.on('error', (error) => ui.warn(`gateway: ${(error as Error).message ?? error}`))
  const server = createServer(gateway.listener)
  try {
    const bound = await listenWithFallback(server, port, values.host)
    const url = `http://${values.host}:${bound}`
    if (values.json) process.stdout.write(`${JSON.stringify({ url })}\n`)
    if (bound !== port && port !== 0) ui.warn(`port ${port} is taken: the gateway listens on ${bound} instead`)
    ui.done(`gateway ${url}`)
    ui.info(
      `  POST ${url}/__402x/decide, then /__402x/finish (docs/decision-service.md)\n  pays ${gateway.paywall.config.payTo} on ${gateway.paywall.config.network}. Ctrl-C stops it.`,
    )
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve)
      process.once('SIGTERM', resolve)
    })
  } finally {
    await closeServer(server)
    await gateway.close()
  }
  return 0
}
