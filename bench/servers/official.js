// Scenario (d): the official @x402/express paymentMiddleware with the official in-process
// x402Facilitator and ExactEvmScheme, through their public APIs only. The facilitator
// signer is a plain viem wallet client; `BENCH_CONFIG.nonceManager` adds viem's nonceManager
// (a labelled variant: the reference configuration has none).
import { x402Facilitator } from '@x402/core/facilitator'
import { toFacilitatorEvmSigner } from '@x402/evm'
import { ExactEvmScheme as ExactEvmFacilitatorScheme } from '@x402/evm/exact/facilitator'
import { ExactEvmScheme as ExactEvmServerScheme } from '@x402/evm/exact/server'
import { paymentMiddleware, x402ResourceServer } from '@x402/express'
import express from 'express'
import { createWalletClient, http, publicActions } from 'viem'
import { nonceManager, privateKeyToAccount } from 'viem/accounts'
import { anvil } from 'viem/chains'
import { config, handler, serve } from './common.js'

const account = privateKeyToAccount(config.facilitatorKey, config.nonceManager ? { nonceManager } : undefined)
// pollingInterval: viem's default here (no blockTime) would be 4 s between receipt polls. As
// anvil's chain grows, a receipt is often not ready right after the send, so the bench gives
// the reference 10 ms (`BENCH_CONFIG.pollingInterval`): only ever in its favour.
const client = createWalletClient({
  account,
  chain: anvil,
  transport: http(config.rpcUrl),
  pollingInterval: config.pollingInterval ?? 100,
}).extend(publicActions)
const signer = toFacilitatorEvmSigner(
  {
    address: account.address,
    readContract: (args) => client.readContract(args),
    verifyTypedData: (args) => client.verifyTypedData(args),
    writeContract: (args) => client.writeContract(args),
    sendTransaction: (args) => client.sendTransaction(args),
    waitForTransactionReceipt: (args) => client.waitForTransactionReceipt(args),
    getCode: (args) => client.getCode(args),
  },
  { confirmationTimeoutMs: 30_000 },
)
const facilitator = new x402Facilitator().register(config.network, new ExactEvmFacilitatorScheme(signer))
// x402Facilitator has verify/settle/getSupported already; getSupported is made async for the server.
const facilitatorClient = {
  verify: (payload, requirements) => facilitator.verify(payload, requirements),
  settle: (payload, requirements) => facilitator.settle(payload, requirements),
  getSupported: async () => facilitator.getSupported(),
}
const resourceServer = new x402ResourceServer(facilitatorClient).register(config.network, new ExactEvmServerScheme())
await resourceServer.initialize()

const routes = {
  'GET /paid': {
    accepts: {
      scheme: 'exact',
      network: config.network,
      payTo: config.payTo,
      price: { amount: config.amount, asset: config.usdc, extra: config.eip712 },
      maxTimeoutSeconds: 60,
    },
    description: 'paid bench resource',
    mimeType: 'application/json',
  },
}

const app = express()
app.use(paymentMiddleware(routes, resourceServer, undefined, undefined, false))
app.get('/free', handler)
app.get('/paid', handler)
serve(app)
