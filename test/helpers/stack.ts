import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { registerNetwork } from '@402x/core'
import { type Devchain, startDevchain } from '@402x/devchain'
import { createFacilitator, createFacilitatorServer, type Facilitator } from '@402x/facilitator'

export type Stack = {
  chain: Devchain
  facilitator: Facilitator
  facilitatorUrl: string
  /** A fresh folder for ledgers and state. */
  dir: string
  /** Paywall options pointing at this stack. */
  paywall(overrides?: Record<string, unknown>): {
    payTo: string
    network: string
    asset: { address: string; eip712: { name: string; version: string } }
    facilitator: string
    ledger: string
    reconcileIntervalMs: number
  }
  stop(): Promise<void>
}

export async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

export async function close(server: Server | undefined): Promise<void> {
  if (!server?.listening) return
  server.closeAllConnections()
  await new Promise<void>((resolve) => server.close(() => resolve()))
}

/** Starts a devchain and an HTTP facilitator on it. Always `stop()` it. */
export async function startStack(): Promise<Stack> {
  const chain = await startDevchain({ buyers: 6 })
  let server: Server | undefined
  const dir = mkdtempSync(join(tmpdir(), '402x-test-'))
  try {
    registerNetwork(chain.networkEntry)
    const facilitator = createFacilitator({
      chains: [{ network: chain.network, rpcUrl: chain.rpcUrl }],
      privateKeys: [chain.facilitator.privateKey],
      receiptTimeoutMs: 10_000,
    })
    server = createFacilitatorServer({ facilitator })
    const facilitatorUrl = await listen(server)
    let ledgers = 0
    return {
      chain,
      facilitator,
      facilitatorUrl,
      dir,
      paywall: (overrides = {}) => ({
        payTo: chain.payTo.address,
        network: chain.network,
        asset: { address: chain.usdc, eip712: chain.eip712 },
        facilitator: facilitatorUrl,
        ledger: join(dir, `ledger-${++ledgers}.db`),
        reconcileIntervalMs: 0,
        ...overrides,
      }),
      async stop() {
        await close(server)
        await chain.stop()
        rmSync(dir, { recursive: true, force: true })
      },
    }
  } catch (error) {
    await close(server)
    await chain.stop()
    throw error
  }
}

export { createServer }
