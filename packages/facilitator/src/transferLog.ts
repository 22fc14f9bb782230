import type { Hex } from 'viem'

/** A transaction receipt, as much of it as settling reads. */
export type Receipt = {
  transactionHash?: Hex
  status: Hex
  logs: { address: string; topics: Hex[]; data: Hex }[]
}

/** keccak256("Transfer(address,address,uint256)") */
const transferTopic = '0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef'
const topicAddress = (topic: string | undefined) => `0x${(topic ?? '').slice(-40)}`.toLowerCase()

/** Checks the receipt carries `Transfer(from, to, value)` from the asset. */
export function hasTransferLog(
  receipt: Receipt,
  asset: string,
  auth: { from: string; to: string; value: string },
): boolean {
  return receipt.logs.some(
    (log) =>
      log.address.toLowerCase() === asset.toLowerCase() &&
      log.topics[0] === transferTopic &&
      topicAddress(log.topics[1]) === auth.from.toLowerCase() &&
      topicAddress(log.topics[2]) === auth.to.toLowerCase() &&
      log.data !== '0x' &&
      BigInt(log.data) === BigInt(auth.value),
  )
}
