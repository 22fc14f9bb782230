import { getNetwork, readDevState, X402Error } from '@402x/core'
import { createFacilitator, createFacilitatorServer } from '@402x/facilitator'
import { explainGasKeyError, gasKeysFromEnv } from '../gasKeysFromEnv.js'
import { closeServer, listenWithFallback } from '../listen.js'
import { createUi } from '../ui.js'

export type FacilitatorCommandOptions = {
  port: number
  host: string
  network?: string
  rpcUrl?: string
  /** How long one chain RPC call may go unanswered. @default 10000 */
  rpcTimeoutMs?: number
  json: boolean
}

/**
 * `402x facilitator`: the facilitator service alone. Settings: `--network`/`X402_NETWORK`,
 * `--rpc-url`/`X402_RPC_URL`, `--rpc-timeout-ms`/`X402_RPC_TIMEOUT_MS`, `X402_GAS_KEYS` (the gas wallet keys,
 * comma-separated; `X402_FACILITATOR_PRIVATE_KEY` is its earlier name), `X402_FACILITATOR_API_KEY`
 * (optional bearer token). On the chain of a running `402x dev`, a gas wallet without ETH is
 * given 10 000 ETH.
 */
export async function facilitator(options: FacilitatorCommandOptions): Promise<void> {
  const ui = createUi({ json: options.json })
  const env = process.env
  const dev = readDevState()
  const network = options.network ?? env.X402_NETWORK ?? dev?.network
  const rpcUrl = options.rpcUrl ?? env.X402_RPC_URL ?? (network && dev?.network === network ? dev.rpcUrl : undefined)
  const gas = gasKeysFromEnv(env)
  if (!network) {
    throw new X402Error('invalid_config', {
      message:
        'X402_NETWORK is not set: pass --network eip155:84532 or set X402_NETWORK (eip155:8453, eip155:84532, eip155:31337)',
    })
  }
  const known = getNetwork(network)
  const rpc = rpcUrl ?? known.rpcUrl
  if (!rpc) {
    throw new X402Error('invalid_config', {
      message: 'X402_RPC_URL is not set: pass --rpc-url http://… or set X402_RPC_URL',
    })
  }
  if (!gas || gas.keys.length === 0) {
    throw new X402Error('invalid_config', {
      message:
        'X402_GAS_KEYS is not set: set it to the gas wallet keys (X402_GAS_KEYS=0x…,0x…; one wallet per facilitator instance, never shared)',
    })
  }
  const rpcTimeoutMs = options.rpcTimeoutMs ?? (env.X402_RPC_TIMEOUT_MS ? Number(env.X402_RPC_TIMEOUT_MS) : 10_000)
  if (!Number.isInteger(rpcTimeoutMs) || rpcTimeoutMs <= 0) {
    throw new X402Error('invalid_config', {
      message: `the RPC timeout must be a positive number of milliseconds, not ${rpcTimeoutMs}: pass --rpc-timeout-ms 10000 or set X402_RPC_TIMEOUT_MS`,
    })
  }
  let service: ReturnType<typeof createFacilitator>
  try {
    service = createFacilitator({
      chains: [{ network: known.id, rpcUrl: rpc }],
      gasWallets: gas.keys,
      rpcTimeoutMs,
      // A send with no answer is sent again and looked up for as long as one call may take.
      confirmTimeoutMs: rpcTimeoutMs,
    })
  } catch (error) {
    throw explainGasKeyError(error, gas.variable)
  }
  if (dev && dev.network === known.id && dev.rpcUrl === rpc) {
    for (const address of await fundDevGas(rpc, service.signers))
      ui.info(`  funded gas wallet ${address} with 10 000 ETH`)
  }
  const server = createFacilitatorServer({
    facilitator: service,
    ...(env.X402_FACILITATOR_API_KEY ? { apiKey: env.X402_FACILITATOR_API_KEY } : {}),
  })
  const port = await listenWithFallback(server, options.port, options.host)
  const url = `http://${options.host}:${port}`
  if (options.json)
    process.stdout.write(`${JSON.stringify({ url, network: known.id, rpcUrl: rpc, signers: service.signers })}\n`)
  ui.done(`facilitator ${url} for ${known.name} (${known.id}) via ${rpc}`)
  ui.info(`  gas wallets ${service.signers.join(', ')}\n  GET /supported, POST /verify, POST /settle. Ctrl-C stops it.`)
  await new Promise<void>((resolve) => {
    const stop = () => {
      service.close()
      void closeServer(server).then(resolve)
    }
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
  })
}

/** On the local chain of `402x dev`: gives each gas wallet below 1 ETH 10 000 ETH; resolves the ones funded. */
async function fundDevGas(rpcUrl: string, addresses: string[]): Promise<string[]> {
  const call = async (method: string, params: unknown[]) => {
    const res = await fetch(rpcUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
      signal: AbortSignal.timeout(10_000),
    })
    return ((await res.json()) as { result?: string }).result
  }
  const funded: string[] = []
  for (const address of addresses) {
    if (BigInt((await call('eth_getBalance', [address, 'latest'])) ?? '0x0') >= 10n ** 18n) continue
    await call('anvil_setBalance', [address, `0x${(10_000n * 10n ** 18n).toString(16)}`])
    funded.push(address)
  }
  return funded
}
