// The facilitator as its own process, over HTTP (`createFacilitatorServer`, what
// `402x facilitator` runs): in the framework comparison the chain work (reads, signing,
// sending, receipts) happens here and in anvil, not in the server being measured.
import { createFacilitator, createFacilitatorServer } from '@402x/facilitator'
import { config, listen, registerBenchNetwork } from './common.js'

registerBenchNetwork()
const facilitator = createFacilitator({
  chains: [{ network: config.network, rpcUrl: config.rpcUrl }],
  privateKeys: [config.facilitatorKey],
})
listen(createFacilitatorServer({ facilitator }))
