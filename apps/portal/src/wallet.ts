// An injected EIP-1193 wallet (window.ethereum): sign-in with EIP-4361 (personal_sign) and
// x402 payments with EIP-3009 transferWithAuthorization (eth_signTypedData_v4).
import { toBase64 } from './api'

type Eip1193 = { request(args: { method: string; params?: unknown[] }): Promise<unknown> }
declare global {
  interface Window {
    ethereum?: Eip1193
  }
}

export const hasWallet = () => typeof window !== 'undefined' && Boolean(window.ethereum)

function provider(): Eip1193 {
  if (!window.ethereum)
    throw new Error('no browser wallet found: install one (MetaMask, Rabby …) or sign in with an API key')
  return window.ethereum
}

export async function connect(): Promise<string> {
  const accounts = (await provider().request({ method: 'eth_requestAccounts' })) as string[]
  const first = accounts[0]
  if (!first) throw new Error('the wallet shared no account')
  return first
}

type SiwxInfo = {
  domain: string
  uri: string
  statement?: string
  version: string
  nonce: string
  issuedAt: string
  expirationTime?: string
  notBefore?: string
  requestId?: string
  resources?: string[]
}

/** The EIP-4361 message, exactly as the server rebuilds it (`formatSiweMessage` in @402x/core). */
export function siweMessage(info: SiwxInfo & { chainId: string }, address: string): string {
  const chain = /^eip155:(\d+)$/.exec(info.chainId)?.[1]
  if (!chain) throw new Error(`${info.chainId} is not an EVM chain`)
  const lines = [
    `URI: ${info.uri}`,
    `Version: ${info.version}`,
    `Chain ID: ${chain}`,
    `Nonce: ${info.nonce}`,
    `Issued At: ${info.issuedAt}`,
  ]
  if (info.expirationTime) lines.push(`Expiration Time: ${info.expirationTime}`)
  if (info.notBefore) lines.push(`Not Before: ${info.notBefore}`)
  if (info.requestId) lines.push(`Request ID: ${info.requestId}`)
  if (info.resources?.length) lines.push(['Resources:', ...info.resources.map((r) => `- ${r}`)].join('\n'))
  const head = `${info.domain} wants you to sign in with your Ethereum account:\n${address}\n\n`
  return `${head}${info.statement === undefined ? '' : `${info.statement}\n`}\n${lines.join('\n')}`
}

const hex = (bytes: Uint8Array) => `0x${Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')}`

/** Signs the portal's SIWX challenge: the base64 `SIGN-IN-WITH-X` payload to send. */
export async function signIn(challenge: { info: SiwxInfo; supportedChains: { chainId: string }[] }): Promise<string> {
  const address = await connect()
  const chainId = challenge.supportedChains[0]?.chainId
  if (!chainId) throw new Error('this API offers no EVM chain to sign in on')
  const message = siweMessage({ ...challenge.info, chainId }, address)
  const signature = (await provider().request({
    method: 'personal_sign',
    params: [hex(new TextEncoder().encode(message)), address],
  })) as string
  return toBase64(
    JSON.stringify({ ...challenge.info, address, chainId, type: 'eip191', signatureScheme: 'eip191', signature }),
  )
}

export type Requirements = {
  scheme: string
  network: string
  amount: string
  asset: string
  payTo: string
  maxTimeoutSeconds: number
  extra?: { name?: string; version?: string }
}

/**
 * Pays one x402 requirement with the wallet: an EIP-3009 authorization signed as typed data,
 * returned as the `PAYMENT-SIGNATURE` header value.
 */
export async function pay(requirements: Requirements, resource: unknown): Promise<string> {
  const from = await connect()
  const chainId = Number(/^eip155:(\d+)$/.exec(requirements.network)?.[1])
  if (!chainId) throw new Error(`${requirements.network} is not an EVM chain`)
  const { name, version } = requirements.extra ?? {}
  if (!name || !version) throw new Error("the 402 does not name the token's EIP-712 domain")
  const nonce = hex(crypto.getRandomValues(new Uint8Array(32)))
  const authorization = {
    from,
    to: requirements.payTo,
    value: requirements.amount,
    validAfter: '0',
    validBefore: String(Math.floor(Date.now() / 1000) + requirements.maxTimeoutSeconds),
    nonce,
  }
  const typedData = {
    types: {
      EIP712Domain: [
        { name: 'name', type: 'string' },
        { name: 'version', type: 'string' },
        { name: 'chainId', type: 'uint256' },
        { name: 'verifyingContract', type: 'address' },
      ],
      TransferWithAuthorization: [
        { name: 'from', type: 'address' },
        { name: 'to', type: 'address' },
        { name: 'value', type: 'uint256' },
        { name: 'validAfter', type: 'uint256' },
        { name: 'validBefore', type: 'uint256' },
        { name: 'nonce', type: 'bytes32' },
      ],
    },
    primaryType: 'TransferWithAuthorization',
    domain: { name, version, chainId, verifyingContract: requirements.asset },
    message: authorization,
  }
  const signature = (await provider().request({
    method: 'eth_signTypedData_v4',
    params: [from, JSON.stringify(typedData)],
  })) as string
  const payload = {
    x402Version: 2,
    ...(resource ? { resource } : {}),
    accepted: requirements,
    payload: { signature, authorization },
  }
  return toBase64(JSON.stringify(payload))
}
