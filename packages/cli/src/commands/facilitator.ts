import { getNetwork, readDevState, X402Error } from '@402x/core'
import { createFacilitator, createFacilitatorServer } from '@402x/facilitator'
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
 * `--rpc-url`/`X402_RPC_URL`, `--rpc-timeout-ms`/`X402_RPC_TIMEOUT_MS`, `X402_FACILITATOR_PRIVATE_KEY` (comma-separated for several
 * gas wallets), `X402_FACILITATOR_API_KEY` (optional bearer token).
 */
export async function facilitator(options: FacilitatorCommandOptions): Promise<void> {
  const ui = createUi({ json: options.json })
  const env = process.env
  const dev = readDevState()
  const network = options.network ?? env.X402_NETWORK ?? dev?.network
  const rpcUrl = options.rpcUrl ?? env.X402_RPC_URL ?? (network && dev?.network === network ? dev.rpcUrl : undefined)
  const keys = (env.X402_FACILITATOR_PRIVATE_KEY ?? '')
    .split(',')
    .map((k) => k.trim())
    .filter(Boolean)
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
  if (keys.length === 0) {
    throw new X402Error('invalid_config', {
      message: 'X402_FACILITATOR_PRIVATE_KEY is not set: set it to the gas wallet key (0x…; comma-separate several)',
    })
  }
  const rpcTimeoutMs = options.rpcTimeoutMs ?? (env.X402_RPC_TIMEOUT_MS ? Number(env.X402_RPC_TIMEOUT_MS) : 10_000)
  if (!Number.isInteger(rpcTimeoutMs) || rpcTimeoutMs <= 0) {
    throw new X402Error('invalid_config', {
      message: `the RPC timeout must be a positive number of milliseconds, not ${rpcTimeoutMs}: pass --rpc-timeout-ms 10000 or set X402_RPC_TIMEOUT_MS`,
    })
  }
  const service = createFacilitator({
    chains: [{ network: known.id, rpcUrl: rpc }],
    privateKeys: keys as `0x${string}`[],
    rpcTimeoutMs,
    // A send with no answer is sent again and looked up for as long as one call may take.
    confirmTimeoutMs: rpcTimeoutMs,
  })
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
