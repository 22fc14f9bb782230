// CPU time of one signature verification of the same EIP-3009 payment: ours
// (`verifyAuthorization`, libsecp256k1 when available) against viem's pure-JS recovery.
import { createPayment, secpBackend, verifyAuthorization } from '@402x/core'
import { recoverTypedDataAddress, verifyTypedData } from 'viem'

const types = {
  TransferWithAuthorization: [
    { name: 'from', type: 'address' },
    { name: 'to', type: 'address' },
    { name: 'value', type: 'uint256' },
    { name: 'validAfter', type: 'uint256' },
    { name: 'validBefore', type: 'uint256' },
    { name: 'nonce', type: 'bytes32' },
  ],
}

/** Average CPU microseconds (user + system) of `fn` over `iterations`, after a warm-up. */
async function cpuMicros(fn, iterations) {
  for (let i = 0; i < Math.min(200, iterations); i++) await fn()
  const before = process.cpuUsage()
  for (let i = 0; i < iterations; i++) await fn()
  const used = process.cpuUsage(before)
  return (used.user + used.system) / iterations
}

/** `iterations`: `{ ours, viem }`, how many verifications each average is over. */
export async function measureVerifyCost({ buyer, requirements, chainId, iterations }) {
  const payment = createPayment({ privateKey: buyer.privateKey, from: buyer.address, requirements })
  const { authorization, signature } = payment.payload
  const typed = {
    domain: {
      name: requirements.extra.name,
      version: requirements.extra.version,
      chainId,
      verifyingContract: requirements.asset,
    },
    types,
    primaryType: 'TransferWithAuthorization',
    message: {
      ...authorization,
      value: BigInt(authorization.value),
      validAfter: BigInt(authorization.validAfter),
      validBefore: BigInt(authorization.validBefore),
    },
    signature,
  }
  // Each implementation must accept this payment, or the timing means nothing.
  const ours = await verifyAuthorization({ payload: payment.payload, requirements })
  if (!ours.isValid) throw new Error(`verifyAuthorization refused the bench payment: ${ours.message}`)
  if ((await recoverTypedDataAddress(typed)).toLowerCase() !== buyer.address.toLowerCase())
    throw new Error('viem recovered another address from the bench payment')
  if (!(await verifyTypedData({ ...typed, address: buyer.address })))
    throw new Error('viem verifyTypedData refused the bench payment')
  return {
    backend: secpBackend,
    oursMicros: await cpuMicros(() => verifyAuthorization({ payload: payment.payload, requirements }), iterations.ours),
    viemRecoverMicros: await cpuMicros(() => recoverTypedDataAddress(typed), iterations.viem),
    viemVerifyMicros: await cpuMicros(() => verifyTypedData({ ...typed, address: buyer.address }), iterations.viem),
  }
}
