import { randomBytes } from 'node:crypto'
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { join } from 'node:path'
import { type DevState, registerNetwork, stateDir } from '@402x/core'
import { type Devchain, startDevchain } from '@402x/devchain'
import { createFacilitator, createFacilitatorServer } from '@402x/facilitator'
import { migrateDatabase } from '402x-api'
import { createDemoApi, demoEndpoints, demoKeyedEndpoint, demoPlans } from '../demoApi.js'
import { type DemoKey, demoKeyLines, ensureDemoKeys } from '../demoKeys.js'
import { startDemoTraffic } from '../demoTraffic.js'
import { type Instances, startInstances } from '../devInstances.js'
import { chainDied, type MovedPort, movedPortLines } from '../devNotices.js'
import { explainGasKeyError, gasKeysFromEnv } from '../gasKeysFromEnv.js'
import { closeServer, listenWithFallback } from '../listen.js'
import { createUi } from '../ui.js'

export type DevOptions = {
  json: boolean
  /** anvil port. @default 8545, or a free one */
  chainPort: number
  /** @default 4020 */
  facilitatorPort: number
  /** @default 4021 */
  apiPort: number
  /** Demo API processes on consecutive ports from `apiPort`, sharing the stores. @default 1 */
  instances?: number
  /** PostgreSQL for the ledger, credit, keys and usage (migrated first). @default the SQLite file in .402x/ */
  databaseUrl?: string
  /** Redis for locks, proofs, counters and rate limits. @default PostgreSQL when given, else in process */
  redisUrl?: string
  /**
   * How many gas wallets the facilitator settles with (dev accounts, funded with ETH); with
   * `X402_GAS_KEYS` set, its keys are used and funded instead. @default 1
   */
  gasWallets?: number
  /**
   * A few callers paying, spending credit, using a key and being refused, at a low rate in
   * this process, so the dashboard shows a live business (`--no-demo-traffic`: off). @default true
   */
  demoTraffic?: boolean
}

/**
 * `402x dev`: the local chain with USDC, the facilitator and the demo paid API, on an
 * embedded default. Runs until Ctrl-C, then stops everything.
 */
export async function dev(options: DevOptions): Promise<void> {
  const ui = createUi({ json: options.json })
  const started = Date.now()
  const servers: Server[] = []
  const moved: MovedPort[] = []
  const portOf = (url: string) => Number(new URL(url).port)
  let chain: Devchain | undefined
  let instances: Instances | undefined
  let traffic: ReturnType<typeof startDemoTraffic> | undefined
  const count = options.instances ?? 1
  const dir = stateDir()
  const statePath = join(dir, 'dev.json')
  let stopping: Promise<void> | undefined
  const stop = () => {
    stopping ??= (async () => {
      rmSync(statePath, { force: true })
      await traffic?.stop()
      await instances?.stop()
      await Promise.allSettled(servers.map(closeServer))
      await chain?.stop()
    })()
    return stopping
  }
  const onSignal = (signal: NodeJS.Signals) => {
    ui.info(`\n${signal}: stopping…`)
    void stop().then(() => {
      ui.done('stopped the API, the facilitator and the chain')
      process.exit(0)
    })
  }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  try {
    if (options.databaseUrl) {
      ui.step('migrating the PostgreSQL database…')
      const migrated = await migrateDatabase(options.databaseUrl, '--database-url')
      ui.done(
        `PostgreSQL ${options.databaseUrl.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@')}${migrated.length ? ` (migrated ${migrated.map((m) => m.component).join(', ')})` : ' (up to date)'}`,
      )
    }
    ui.step('starting the local chain (anvil) and deploying Circle’s USDC…')
    const given = gasKeysFromEnv(process.env)
    const gasWallets = given ? 1 : (options.gasWallets ?? 1)
    chain = await startDevchain({ port: options.chainPort, gasWallets }).catch((error) => {
      if (options.chainPort === 0) throw error
      return startDevchain({ port: 0, gasWallets })
    })
    ui.done(`chain ${chain.rpcUrl} (id 31337), USDC at ${chain.usdc}`)
    if (options.chainPort !== 0 && portOf(chain.rpcUrl) !== options.chainPort)
      moved.push({ what: 'chain (anvil)', asked: options.chainPort, got: portOf(chain.rpcUrl) })
    registerNetwork(chain.networkEntry)

    ui.step('starting the facilitator…')
    const gasKeys = given?.keys ?? chain.gasWallets.map((w) => w.privateKey)
    let facilitator: ReturnType<typeof createFacilitator>
    try {
      facilitator = createFacilitator({
        chains: [{ network: chain.network, rpcUrl: chain.rpcUrl }],
        gasWallets: gasKeys,
      })
    } catch (error) {
      throw explainGasKeyError(error, given?.variable ?? 'X402_GAS_KEYS')
    }
    // Keys of the environment are funded here: on the local chain, gas is free for the asking.
    if (given) for (const address of facilitator.signers) await chain.fundGas(address as `0x${string}`)
    const facilitatorServer = createFacilitatorServer({ facilitator })
    servers.push(facilitatorServer)
    const facilitatorUrl = `http://127.0.0.1:${await listenWithFallback(facilitatorServer, options.facilitatorPort)}`
    ui.done(
      `facilitator ${facilitatorUrl} (gas wallet${facilitator.signers.length > 1 ? 's' : ''} ${facilitator.signers.join(', ')})`,
    )
    if (options.facilitatorPort !== 0 && portOf(facilitatorUrl) !== options.facilitatorPort)
      moved.push({ what: 'facilitator', asked: options.facilitatorPort, got: portOf(facilitatorUrl) })

    ui.step(count > 1 ? `starting ${count} demo paid API instances…` : 'starting the demo paid API…')
    mkdirSync(dir, { recursive: true })
    // The admin token (X402_ADMIN_TOKEN, else one for this run): the dashboard's sign-in link
    // carries it, and .402x/dev.json (0600) keeps it for the 402x commands run in this folder.
    const adminToken = process.env.X402_ADMIN_TOKEN || `x402_admin_${randomBytes(18).toString('base64url')}`
    const settings = {
      adminToken,
      payTo: chain.payTo.address,
      network: chain.network,
      asset: { address: chain.usdc, eip712: chain.eip712 },
      facilitator: facilitatorUrl,
      // The ledger: PostgreSQL when given, else the SQLite file every instance shares.
      ...(options.databaseUrl ? {} : { ledger: join(dir, 'ledger.db') }),
      ...(options.databaseUrl || options.redisUrl
        ? {
            stores: {
              ...(options.databaseUrl ? { databaseUrl: options.databaseUrl } : {}),
              ...(options.redisUrl ? { redisUrl: options.redisUrl } : {}),
            },
          }
        : {}),
    }
    let apiUrls: string[]
    let demoKeys: DemoKey[]
    if (count > 1) {
      instances = await startInstances({
        count,
        basePort: options.apiPort,
        network: chain.networkEntry,
        settings,
        onExit: (index, pid, exit) =>
          ui.warn(
            `demo API instance ${index} (pid ${pid}, ${instances?.urls[index]}) stopped (${exit.signal ? `signal ${exit.signal}` : `exit code ${exit.code}`}); the other instances keep serving`,
          ),
      })
      apiUrls = instances.urls
      demoKeys = instances.demoKeys
    } else {
      const app = createDemoApi(settings)
      // Node's default (16 KiB for all headers together) would answer a large payment header
      // with a bare 431 before 402x sees it; with room above 402x's own 16 KiB limit, 402x
      // answers it with `payload_too_large` and a message, as its error table says.
      const api = createServer({ maxHeaderSize: 64 * 1024 }, app)
      servers.push(api)
      apiUrls = [`http://127.0.0.1:${await listenWithFallback(api, options.apiPort)}`]
      ui.step('making the demo API keys…')
      demoKeys = await ensureDemoKeys(
        app.keys,
        demoPlans().map((p) => p.name),
      )
    }
    const apiUrl = apiUrls[0] as string
    ui.done(count > 1 ? `demo API instances ${apiUrls.join(' ')}` : `demo API ${apiUrl}`)
    if (options.apiPort !== 0 && portOf(apiUrl) !== options.apiPort)
      moved.push({ what: count > 1 ? 'demo API instances' : 'demo API', asked: options.apiPort, got: portOf(apiUrl) })

    const keyedUrl = `${apiUrl}${demoKeyedEndpoint.path}`
    const dashboardUrl = `${apiUrl}/__402x/dashboard/login?token=${encodeURIComponent(adminToken)}`
    if (options.demoTraffic !== false) {
      traffic = startDemoTraffic({
        apiUrls,
        // The first buyer is the one `402x pay` uses: the demo's callers are the others.
        buyers: chain.buyers.slice(1),
        key: demoKeys.find((k) => k.plan === 'pay-as-you-go')?.key,
      })
    }

    const buyer = chain.buyers[0] as { address: string; privateKey: string }
    const state: DevState = {
      pid: process.pid,
      rpcUrl: chain.rpcUrl,
      chainId: chain.chainId,
      network: chain.network,
      asset: chain.usdc,
      eip712: chain.eip712,
      facilitatorUrl,
      apiUrl,
      apiUrls,
      payTo: chain.payTo.address,
      buyerPrivateKey: buyer.privateKey,
      adminToken,
    }
    writeFileSync(statePath, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 })
    const endpoints = demoEndpoints.map((e) => ({ method: e.method, path: e.path, price: e.price }))
    // Loud, and in --json mode too (on stderr): the README's commands use the default ports.
    for (const line of movedPortLines(moved)) ui.warn(line)
    if (options.json) {
      process.stdout.write(
        `${JSON.stringify({
          ...state,
          instances: apiUrls.map((url, i) => ({ url, pid: instances ? instances.pids[i] : process.pid })),
          stores: storesLine(options),
          endpoints,
          keyedEndpoint: { ...demoKeyedEndpoint, url: keyedUrl },
          demoKeys,
          movedPorts: moved,
          dashboardUrl,
          demoTraffic: options.demoTraffic !== false,
        })}\n`,
      )
    } else {
      const lines = [
        '',
        ui.bold(`402x dev is running (ready in ${((Date.now() - started) / 1000).toFixed(1)} s)`),
        ...(moved.length > 0
          ? [ui.bold(`  ! not on the default ports: ${moved.map((m) => `${m.what} on ${m.got}`).join(', ')}`)]
          : []),
        `  chain        ${chain.rpcUrl}  (eip155:31337, USDC ${chain.usdc})`,
        `  facilitator  ${facilitatorUrl}`,
        ...(count > 1
          ? apiUrls.map(
              (url, i) =>
                `  ${i === 0 ? 'demo API    ' : '            '} ${url}  (instance ${i}, pid ${instances?.pids[i]})`,
            )
          : [`  demo API     ${apiUrl}`]),
        `  stores       ${storesLine(options)}`,
        `  dashboard    ${dashboardUrl}`,
        `               (opens signed in; elsewhere sign in with the admin token ${adminToken})`,
        ...(options.demoTraffic !== false
          ? ['  demo traffic a few callers paying, on credit, on a key, and refused (--no-demo-traffic: off)']
          : []),
        `  payTo        ${chain.payTo.address}  (the seller)`,
        `  buyer        ${buyer.address}  (1000 USDC; key in ${statePath})`,
        '',
        ui.bold('Paid endpoints'),
        ...demoEndpoints.map((e) => `  ${e.method.padEnd(5)} ${apiUrl}${e.path.padEnd(22)} $${e.price}`),
        `  docs  ${apiUrl}/openapi.json  ·  ${apiUrl}/.well-known/x402`,
        `  other languages (Flask …): POST ${apiUrl}/__402x/decide (docs/decision-service.md)`,
        '',
        ui.bold('API keys (one per plan; 402x keys … in this folder manages them)'),
        `  ${demoKeyedEndpoint.method.padEnd(5)} ${keyedUrl}  $${demoKeyedEndpoint.price} (a key, x402 or credit)`,
        ...demoKeyLines(demoKeys, keyedUrl),
        '',
        ui.bold('Pay from another terminal'),
        `  npx 402x pay ${apiUrl}/api/market/ETH --verbose`,
        `  npx 402x pay ${apiUrl}/api/generate -X POST -d '{"prompt":"a cat"}'`,
        '',
        ui.dim('Servers in this folder pick these settings up from .402x/dev.json. Ctrl-C stops everything.'),
      ]
      ui.info(lines.join('\n'))
    }
    // Runs until a signal, or until the chain dies under it (anvil killed): then everything
    // stops with a message, rather than a stack that says it runs and cannot pay.
    const running = chain
    await new Promise<never>((_, reject) => {
      void running.died.then((exit) => reject(chainDied(running.rpcUrl, exit)))
    })
  } catch (error) {
    await stop()
    throw error
  }
}

/** Where the demo's state lives, for the banner and the JSON line (no password shown). */
function storesLine(options: DevOptions): string {
  const hide = (url: string) => url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@')
  const durable = options.databaseUrl ? `PostgreSQL ${hide(options.databaseUrl)}` : 'SQLite .402x/ledger.db'
  const fast = options.redisUrl
    ? `Redis ${hide(options.redisUrl)}`
    : options.databaseUrl
      ? 'locks and limits in PostgreSQL'
      : 'locks and limits in each process'
  return `${durable}; ${fast}`
}
