/**
 * Builders for the official x402 packages (@x402/core, evm, express, fetch) on the devchain,
 * through their public APIs only. The interop tests put them face to face with ours.
 */
import { createServer, type Server } from 'node:http'
import type { Devchain } from '@402x/devchain'
import { x402Facilitator } from '@x402/core/facilitator'
import { decodePaymentRequiredHeader } from '@x402/core/http'
import { type FacilitatorClient, HTTPFacilitatorClient } from '@x402/core/server'
import type { PaymentPayload, PaymentRequirements, SupportedResponse } from '@x402/core/types'
import { toClientEvmSigner, toFacilitatorEvmSigner } from '@x402/evm'
import { ExactEvmScheme as ExactEvmClientScheme } from '@x402/evm/exact/client'
import { ExactEvmScheme as ExactEvmFacilitatorScheme } from '@x402/evm/exact/facilitator'
import { ExactEvmScheme as ExactEvmServerScheme } from '@x402/evm/exact/server'
import { paymentMiddleware, x402ResourceServer } from '@x402/express'
import { type SelectPaymentRequirements, wrapFetchWithPayment, x402Client } from '@x402/fetch'
import express from 'express'
import { type Address, createTestClient, createWalletClient, type Hex, http, parseEther, publicActions } from 'viem'
import { generatePrivateKey, nonceManager, privateKeyToAccount } from 'viem/accounts'
import { foundry } from 'viem/chains'
import { listen } from '../helpers/stack.js'

/** Bounds every facilitator call and receipt wait in these tests. */
export const timeoutMs = 20_000

/**
 * The official paying fetch: `wrapFetchWithPayment` + `x402Client` + the EVM `exact` client
 * scheme, with spend controls that allow the devchain's USDC (a non-default asset).
 */
export function officialPayingFetch(options: {
  chain: Devchain
  privateKey: Hex
  /** Picks (or rewrites) the requirements to pay; the default is the first offered. */
  selector?: SelectPaymentRequirements
  /** Atomic cap per payment for the devchain USDC. */
  maxAmountPerPayment?: string
  onPayload?: (payload: PaymentPayload) => void
}) {
  const { chain } = options
  const client = new x402Client(options.selector)
    .register(chain.network, new ExactEvmClientScheme(toClientEvmSigner(privateKeyToAccount(options.privateKey))))
    .setSpendControls({
      allowedAssets: [
        {
          network: chain.network,
          asset: chain.usdc,
          ...(options.maxAmountPerPayment ? { maxAmountPerPayment: options.maxAmountPerPayment } : {}),
        },
      ],
    })
  const { onPayload } = options
  if (onPayload) client.onAfterPaymentCreation(async (context) => onPayload(context.paymentPayload))
  return wrapFetchWithPayment(fetch, client)
}

export type OfficialFacilitator = {
  client: FacilitatorClient
  /** The official facilitator's gas wallet, funded with ETH for the test. */
  address: Address
}

/**
 * The official in-process facilitator (`x402Facilitator` + the EVM `exact` facilitator
 * scheme) with a fresh gas wallet, adapted to the `FacilitatorClient` the resource server
 * takes. Its wallet is not one of the devchain's roles, so its transactions are told apart.
 */
export async function officialFacilitator(chain: Devchain): Promise<OfficialFacilitator> {
  const account = privateKeyToAccount(generatePrivateKey(), { nonceManager })
  await createTestClient({ mode: 'anvil', chain: foundry, transport: http(chain.rpcUrl) }).setBalance({
    address: account.address,
    value: parseEther('10'),
  })
  const wallet = createWalletClient({
    account,
    chain: foundry,
    transport: http(chain.rpcUrl),
    pollingInterval: 50,
  }).extend(publicActions)
  const signer = toFacilitatorEvmSigner(
    {
      address: account.address,
      readContract: (args) => wallet.readContract(args as never),
      verifyTypedData: (args) => wallet.verifyTypedData(args as never),
      writeContract: (args) => wallet.writeContract(args as never),
      sendTransaction: (args) => wallet.sendTransaction(args as never),
      waitForTransactionReceipt: (args) => wallet.waitForTransactionReceipt(args),
      getCode: (args) => wallet.getCode(args),
    },
    { confirmationTimeoutMs: timeoutMs },
  )
  const facilitator = new x402Facilitator().register(chain.network, new ExactEvmFacilitatorScheme(signer))
  return {
    address: account.address,
    client: {
      verify: (payload: PaymentPayload, requirements: PaymentRequirements) => facilitator.verify(payload, requirements),
      settle: (payload: PaymentPayload, requirements: PaymentRequirements) => facilitator.settle(payload, requirements),
      // Its declared kinds type networks as `string`; the client interface wants CAIP-2 templates.
      getSupported: async () => facilitator.getSupported() as SupportedResponse,
    },
  }
}

/**
 * Serves a facilitator object over HTTP the way facilitators are reached on the wire:
 * `GET /supported`, `POST /verify`, `POST /settle`, each answering its JSON result.
 */
export function serveFacilitator(facilitator: FacilitatorClient): Server {
  return createServer(async (req, res) => {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' })
      res.end(JSON.stringify(body))
    }
    try {
      if (req.method === 'GET' && req.url === '/supported') return send(200, await facilitator.getSupported())
      if (req.method !== 'POST' || (req.url !== '/verify' && req.url !== '/settle')) return send(404, {})
      const chunks: Buffer[] = []
      for await (const chunk of req) chunks.push(chunk as Buffer)
      const { paymentPayload, paymentRequirements } = JSON.parse(Buffer.concat(chunks).toString('utf8'))
      const result =
        req.url === '/verify'
          ? await facilitator.verify(paymentPayload, paymentRequirements)
          : await facilitator.settle(paymentPayload, paymentRequirements)
      return send(200, result)
    } catch (error) {
      return send(500, { error: (error as Error).message })
    }
  })
}

/** The official HTTP facilitator client, pointed at a URL (never at its internet default). */
export const officialFacilitatorClient = (url: string) => new HTTPFacilitatorClient({ url, timeoutMs })

export type OfficialServer = { url: string; server: Server }

/**
 * An Express app guarded by the official `paymentMiddleware`: `GET /paid` and `POST /echo`
 * cost `amount` atomic devchain USDC, paid to the devchain's `payTo`.
 *
 * The middleware syncs with the facilitator's `GET /supported` at start-up and exits the
 * process when the network is missing. The same check runs here first, so a regression fails
 * this test with a message instead of killing the test worker.
 */
export async function startOfficialServer(options: {
  chain: Devchain
  facilitator: FacilitatorClient
  amount?: string
}): Promise<OfficialServer> {
  const { chain, facilitator } = options
  const supported = await facilitator.getSupported()
  if (!supported.kinds.some((k) => k.x402Version === 2 && k.scheme === 'exact' && k.network === chain.network)) {
    throw new Error(`the facilitator does not list v2 exact on ${chain.network}: ${JSON.stringify(supported.kinds)}`)
  }
  const resourceServer = new x402ResourceServer(facilitator).register(chain.network, new ExactEvmServerScheme())
  const accepts = {
    scheme: 'exact',
    network: chain.network,
    payTo: chain.payTo.address,
    price: { amount: options.amount ?? '10000', asset: chain.usdc, extra: { ...chain.eip712 } },
    maxTimeoutSeconds: 60,
  }
  const app = express()
  app.use(express.json())
  app.use(
    paymentMiddleware(
      {
        'GET /paid': { accepts, description: 'paid test resource', mimeType: 'application/json' },
        'POST /echo': { accepts, description: 'paid echo', mimeType: 'application/json' },
      },
      resourceServer,
    ),
  )
  app.get('/paid', (_req, res) => {
    res.json({ ok: true, data: 'secret' })
  })
  app.post('/echo', (req, res) => {
    res.json({ echo: req.body })
  })
  const server = createServer(app)
  return { url: await listen(server), server }
}

/** The `error` an official 402's PAYMENT-REQUIRED header carries. */
export function paymentRequiredError(headers: Headers): string | undefined {
  const value = headers.get('payment-required')
  if (!value) throw new Error('the 402 carries no PAYMENT-REQUIRED header')
  return decodePaymentRequiredHeader(value).error
}
