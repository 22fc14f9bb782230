import { findNetwork, type PaymentRequirements, readDevState } from '@402x/core'

type AllowedAsset = { network: string; asset: string }

/** USDC on the networks that have a known USDC; the local chain's USDC is deployed per run. */
const knownUsdc = ['eip155:8453', 'eip155:84532']

/**
 * The USDC of a `402x dev` running in this folder (`.402x/dev.json`), read when a 402 asks for
 * it: `402x dev` deploys USDC afresh on each run, so its address is not known in advance.
 */
const devAsset = (): AllowedAsset | undefined => {
  const dev = readDevState()
  return dev ? { network: dev.network, asset: dev.asset } : undefined
}

const same = (a: AllowedAsset, r: PaymentRequirements) =>
  a.asset.toLowerCase() === r.asset.toLowerCase() && findNetwork(a.network)?.id === findNetwork(r.network)?.id

/**
 * Whether this client may pay `r`'s asset: USDC on Base and Base Sepolia, the USDC of a running
 * `402x dev`, and `allowed`.
 */
export function canPayAsset(r: PaymentRequirements, allowed: AllowedAsset[] = []): boolean {
  const known = findNetwork(r.network)
  if (!known?.id.startsWith('eip155:')) return false
  if (known.usdc?.address.toLowerCase() === r.asset.toLowerCase()) return true
  if (allowed.some((a) => same(a, r))) return true
  const dev = known.id === 'eip155:31337' ? devAsset() : undefined
  return dev !== undefined && same(dev, r)
}

/** What this client pays, for a message: "USDC on eip155:8453, …; 0x… on eip155:31337 (allowedAssets)". */
export function describePayable(allowed: AllowedAsset[] = []): string {
  const parts = knownUsdc.map((id) => `USDC on ${id} (${findNetwork(id)?.name ?? id})`)
  for (const a of allowed) parts.push(`${a.asset} on ${a.network} (allowedAssets)`)
  const dev = devAsset()
  parts.push(
    dev
      ? `${dev.asset} on ${dev.network} (the USDC of the 402x dev running here)`
      : 'the USDC of a local chain only while `402x dev` runs in this folder (none runs here)',
  )
  return parts.join(', ')
}
