#!/usr/bin/env node
import { parseArgs } from 'node:util'
import { X402Error } from '@402x/core'
import { credits, creditsUsage } from './commands/credits.js'
import { dev } from './commands/dev.js'
import { exportCommand } from './commands/export.js'
import { facilitator } from './commands/facilitator.js'
import { gatewayCommand, gatewayUsage } from './commands/gateway.js'
import { keys, keysUsage } from './commands/keys.js'
import { mcpCommand, mcpUsage } from './commands/mcp.js'
import { migrateCommand, migrateUsage } from './commands/migrate.js'
import { pay } from './commands/pay.js'
import { payments, paymentsUsage } from './commands/payments.js'
import { proxyCommand, proxyUsage } from './commands/proxy.js'
import { stats, statsUsage } from './commands/stats.js'
import { webhooks, webhooksUsage } from './commands/webhooks.js'

const help = `402x: charge for any HTTP API in USDC over x402

Usage
  402x dev [--json] [--chain-port 8545] [--facilitator-port 4020] [--api-port 4021] [--gas-wallets 1]
           [--instances 1] [--database-url postgres://…] [--redis-url redis://…] [--no-demo-traffic]
      Local chain with Circle's USDC, a facilitator and a demo paid API. Ctrl-C stops all.
      --gas-wallets N: the facilitator settles from N funded wallets (or the keys in X402_GAS_KEYS).
      --instances N: N demo API processes on consecutive ports, sharing the stores.
      The dashboard (/__402x/dashboard) shows demo traffic unless --no-demo-traffic.
  402x pay <url> [-X POST] [-d '{"json":1}'] [-H 'Name: value'] [--max 0.05] [--verbose] [--json]
      Pays the URL if it asks (within --max dollars) and prints the body. Wallet from
      X402_PRIVATE_KEY, else the funded buyer of a running 402x dev.
  402x facilitator [--port 4020] [--host 127.0.0.1] [--network eip155:84532] [--rpc-url URL] [--rpc-timeout-ms 10000] [--json]
      The facilitator service alone (gas wallet keys in X402_GAS_KEYS, comma-separated).
${creditsUsage}
${keysUsage}
${migrateUsage}
${proxyUsage}
${gatewayUsage}
${mcpUsage}
${statsUsage}
${paymentsUsage}
${webhooksUsage}

Docs: README.md`

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv
  if (!command || command === 'help' || command === '--help' || command === '-h') {
    process.stdout.write(`${help}\n`)
    return 0
  }
  if (command === '--version' || command === '-v') {
    process.stdout.write('0.1.0\n')
    return 0
  }
  if (command === 'dev') {
    const { values } = parseArgs({
      args: rest,
      options: {
        json: { type: 'boolean', default: false },
        'chain-port': { type: 'string', default: '8545' },
        'facilitator-port': { type: 'string', default: '4020' },
        'api-port': { type: 'string', default: '4021' },
        'gas-wallets': { type: 'string', default: '1' },
        instances: { type: 'string', default: '1' },
        'database-url': { type: 'string' },
        'redis-url': { type: 'string' },
        'demo-traffic': { type: 'boolean' },
        'no-demo-traffic': { type: 'boolean' },
      },
    })
    if (values['demo-traffic'] && values['no-demo-traffic']) {
      throw new X402Error('invalid_request', { message: 'give --demo-traffic or --no-demo-traffic, not both' })
    }
    const gasWallets = Number(values['gas-wallets'])
    if (!Number.isInteger(gasWallets) || gasWallets < 1 || gasWallets > 100) {
      throw new X402Error('invalid_config', {
        message: `--gas-wallets ${values['gas-wallets']}: give a whole number of gas wallets from 1 to 100, e.g. --gas-wallets 4`,
      })
    }
    const instances = Number(values.instances)
    if (!Number.isInteger(instances) || instances < 1 || instances > 16) {
      throw new X402Error('invalid_request', {
        message: `--instances is "${values.instances}": give a whole number from 1 to 16, e.g. --instances 3`,
      })
    }
    await dev({
      gasWallets,
      json: values.json,
      chainPort: Number(values['chain-port']),
      facilitatorPort: Number(values['facilitator-port']),
      apiPort: Number(values['api-port']),
      instances,
      demoTraffic: !values['no-demo-traffic'],
      ...(values['database-url'] ? { databaseUrl: values['database-url'] } : {}),
      ...(values['redis-url'] ? { redisUrl: values['redis-url'] } : {}),
    })
    return 0
  }
  if (command === 'pay') {
    const { values, positionals } = parseArgs({
      args: rest,
      allowPositionals: true,
      options: {
        request: { type: 'string', short: 'X', default: 'GET' },
        data: { type: 'string', short: 'd' },
        header: { type: 'string', short: 'H', multiple: true, default: [] },
        max: { type: 'string' },
        verbose: { type: 'boolean', short: 'v', default: false },
        json: { type: 'boolean', default: false },
      },
    })
    const url = positionals[0]
    if (!url)
      throw new X402Error('invalid_request', { message: 'usage: 402x pay <url> [-X POST] [-d json] [--max 0.05]' })
    return pay({
      url,
      method: values.data !== undefined && values.request === 'GET' ? 'POST' : values.request,
      ...(values.data !== undefined ? { data: values.data } : {}),
      headers: values.header,
      ...(values.max ? { max: values.max } : {}),
      verbose: values.verbose,
      json: values.json,
    })
  }
  if (command === 'credits') return credits(rest)
  if (command === 'keys') return keys(rest)
  if (command === 'migrate') return migrateCommand(rest)
  if (command === 'gateway') return gatewayCommand(rest)
  if (command === 'proxy') return proxyCommand(rest)
  if (command === 'mcp') return mcpCommand(rest)
  if (command === 'stats') return stats(rest)
  if (command === 'webhooks') return webhooks(rest)
  if (command === 'payments') return payments(rest)
  if (command === 'export') return exportCommand(rest)
  if (command === 'facilitator') {
    const { values } = parseArgs({
      args: rest,
      options: {
        port: { type: 'string', default: '4020' },
        host: { type: 'string', default: '127.0.0.1' },
        network: { type: 'string' },
        'rpc-url': { type: 'string' },
        'rpc-timeout-ms': { type: 'string' },
        json: { type: 'boolean', default: false },
      },
    })
    await facilitator({
      ...(values['rpc-timeout-ms'] ? { rpcTimeoutMs: Number(values['rpc-timeout-ms']) } : {}),
      port: Number(values.port),
      host: values.host,
      json: values.json,
      ...(values.network ? { network: values.network } : {}),
      ...(values['rpc-url'] ? { rpcUrl: values['rpc-url'] } : {}),
    })
    return 0
  }
  process.stderr.write(`402x: unknown command "${command}"\n\n${help}\n`)
  return 2
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    const message = error instanceof X402Error || error instanceof TypeError ? error.message : String(error)
    process.stderr.write(`402x: ${message}\n`)
    process.exit(1)
  },
)
