import { randomBytes } from 'node:crypto'
import { keccak_256 } from '@noble/hashes/sha3'
import { z } from 'zod'
import { decodeHeader } from './codec.js'
import { recoverAddress, signDigest } from './exact/secp.js'

/**
 * Sign-In-With-X (the x402 v2 `sign-in-with-x` extension, CAIP-122 / EIP-4361): a wallet
 * proves who it is without paying. 402x reads it to count free requests per payer and to
 * quote a payer's own price (volume tiers). EVM (`eip191`) signatures only.
 */
export const siwxExtensionKey = 'sign-in-with-x'
export const siwxHeader = 'SIGN-IN-WITH-X'

/** What the server asks to be signed (the extension's `info`). */
export type SiwxInfo = {
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

/** The `sign-in-with-x` extension of a 402: what to sign, and on which chains. */
export type SiwxExtension = {
  info: SiwxInfo
  supportedChains: { chainId: string; type: 'eip191' | 'ed25519'; signatureScheme?: string }[]
  schema: Record<string, unknown>
}

export const SiwxPayloadSchema = z.object({
  domain: z.string(),
  address: z.string(),
  statement: z.string().optional(),
  uri: z.string(),
  version: z.string(),
  chainId: z.string(),
  type: z.enum(['eip191', 'ed25519']),
  nonce: z.string(),
  issuedAt: z.string(),
  expirationTime: z.string().optional(),
  notBefore: z.string().optional(),
  requestId: z.string().optional(),
  resources: z.array(z.string()).optional(),
  signatureScheme: z.enum(['eip191', 'eip1271', 'eip6492', 'siws']).optional(),
  signature: z.string(),
})
/** The `SIGN-IN-WITH-X` header, decoded. */
export type SiwxPayload = z.infer<typeof SiwxPayloadSchema>

/** The JSON schema of the payload, as the extension carries it. */
const payloadJsonSchema = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  type: 'object',
  properties: Object.fromEntries(
    ['domain', 'address', 'statement', 'uri', 'version', 'chainId', 'type', 'nonce', 'issuedAt']
      .concat(['expirationTime', 'notBefore', 'requestId', 'signature'])
      .map((k) => [k, { type: 'string' }]),
  ),
  required: ['domain', 'address', 'uri', 'version', 'chainId', 'type', 'nonce', 'issuedAt', 'signature'],
}

/**
 * The extension for a 402: a fresh nonce, valid for `ttlSeconds`, on each of `networks`.
 *
 * @example
 * required.extensions = { [siwxExtensionKey]: createSiwxExtension({ url, networks: ['eip155:8453'] }) }
 */
export function createSiwxExtension(options: {
  url: string
  networks: string[]
  statement?: string
  ttlSeconds?: number
}): SiwxExtension {
  const url = new URL(options.url)
  const now = Date.now()
  return {
    info: {
      domain: url.host,
      uri: options.url,
      ...(options.statement ? { statement: options.statement } : {}),
      version: '1',
      nonce: randomBytes(16).toString('hex'),
      issuedAt: new Date(now).toISOString(),
      expirationTime: new Date(now + (options.ttlSeconds ?? 300) * 1000).toISOString(),
    },
    supportedChains: [...new Set(options.networks)]
      .filter((n) => n.startsWith('eip155:'))
      .map((chainId) => ({ chainId, type: 'eip191' as const })),
    schema: payloadJsonSchema,
  }
}

/** The EIP-4361 message for an EVM chain. */
export function formatSiweMessage(info: SiwxInfo & { chainId: string }, address: string): string {
  const chain = /^eip155:(\d+)$/.exec(info.chainId)?.[1]
  if (!chain) throw new Error(`chainId ${info.chainId} is not an EVM chain (eip155:<id>)`)
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

/** The EIP-191 `personal_sign` digest of a message. */
export function personalMessageDigest(message: string): Uint8Array {
  const bytes = Buffer.from(message, 'utf8')
  return keccak_256(Buffer.concat([Buffer.from(`\x19Ethereum Signed Message:\n${bytes.length}`, 'utf8'), bytes]))
}

/**
 * Signs the server's challenge as `address` (an EVM key), for the `SIGN-IN-WITH-X` header.
 *
 * @example
 * const payload = signSiwx({ info, chainId: 'eip155:8453', privateKey, address })
 * fetch(url, { headers: { 'SIGN-IN-WITH-X': encodeHeader(payload) } })
 */
export function signSiwx(options: {
  info: SiwxInfo
  chainId: string
  privateKey: string
  address: string
}): SiwxPayload {
  const { info, chainId, address } = options
  const message = formatSiweMessage({ ...info, chainId }, address)
  const key = Buffer.from(options.privateKey.replace(/^0x/, ''), 'hex')
  const signature = `0x${Buffer.from(signDigest(personalMessageDigest(message), key)).toString('hex')}`
  return { ...info, address, chainId, type: 'eip191', signatureScheme: 'eip191', signature }
}

export type SiwxCheck =
  | { ok: true; address: string; nonce: string; expiresAt: number }
  | { ok: false; reason: string; message: string }

/**
 * Checks a `SIGN-IN-WITH-X` header: bound to this origin, recent (issued within `maxAgeMs`,
 * not expired), on an accepted chain, and signed by the address it names (EOA `eip191`).
 * Never throws.
 */
export function verifySiwx(
  header: string,
  options: {
    url: string
    networks: string[]
    maxAgeMs?: number
    now?: number
    /** Also require the signed `uri` to name this path (a proof for one resource only). */
    samePath?: boolean
  },
): SiwxCheck {
  const fail = (reason: string, message: string): SiwxCheck => ({ ok: false, reason, message })
  const decoded = decodeHeader(header, SiwxPayloadSchema)
  if (!decoded.ok) return fail('invalid_siwx_payload', `SIGN-IN-WITH-X: ${decoded.error.message}`)
  const p = decoded.value
  const expected = new URL(options.url)
  const now = options.now ?? Date.now()
  if (p.domain !== expected.host) {
    return fail('invalid_siwx_domain_mismatch', `signed for ${p.domain}, not ${expected.host}`)
  }
  let uri: URL
  try {
    uri = new URL(p.uri)
  } catch {
    return fail('invalid_siwx_uri_mismatch', `uri ${p.uri} is not a URL`)
  }
  if (uri.origin !== expected.origin) {
    return fail('invalid_siwx_uri_mismatch', `signed for ${uri.origin}, not ${expected.origin}`)
  }
  if (options.samePath && uri.pathname !== expected.pathname) {
    return fail('invalid_siwx_uri_mismatch', `signed for ${uri.pathname}, not ${expected.pathname}`)
  }
  const issued = Date.parse(p.issuedAt)
  if (Number.isNaN(issued)) return fail('invalid_siwx_issued_at', 'issuedAt is not a date')
  if (issued > now + 60_000) return fail('invalid_siwx_issued_at_in_future', 'issuedAt is in the future')
  if (now - issued > (options.maxAgeMs ?? 300_000)) {
    return fail('invalid_siwx_issued_at_too_old', 'the sign-in is too old: sign a fresh one')
  }
  const expires = p.expirationTime ? Date.parse(p.expirationTime) : issued + (options.maxAgeMs ?? 300_000)
  if (Number.isNaN(expires) || expires <= now)
    return fail('invalid_siwx_expired', 'the sign-in expired: sign a fresh one')
  if (p.notBefore && Date.parse(p.notBefore) > now)
    return fail('invalid_siwx_not_yet_valid', 'notBefore is in the future')
  if (p.type !== 'eip191' || !options.networks.includes(p.chainId)) {
    return fail('invalid_siwx_unsupported_chain', `sign in on one of ${options.networks.join(', ')} with eip191`)
  }
  if (!/^0x[0-9a-fA-F]{40}$/.test(p.address) || !/^0x[0-9a-fA-F]{130}$/.test(p.signature)) {
    return fail(
      'invalid_siwx_malformed_signature',
      'address or signature is not well formed (an EOA signature is 65 bytes)',
    )
  }
  const { signature, address, chainId } = p
  const info: SiwxInfo = { domain: p.domain, uri: p.uri, version: p.version, nonce: p.nonce, issuedAt: p.issuedAt }
  if (p.statement !== undefined) info.statement = p.statement
  if (p.expirationTime !== undefined) info.expirationTime = p.expirationTime
  if (p.notBefore !== undefined) info.notBefore = p.notBefore
  if (p.requestId !== undefined) info.requestId = p.requestId
  if (p.resources !== undefined) info.resources = p.resources
  const message = formatSiweMessage({ ...info, chainId }, address)
  const signer = recoverAddress(personalMessageDigest(message), Buffer.from(signature.slice(2), 'hex'))
  if (signer !== address.toLowerCase()) {
    return fail('invalid_siwx_signature', 'the signature is not by the address it names')
  }
  // Useful no longer than a proof is accepted at all (issuedAt + maxAge), whatever
  // expirationTime the caller chose: a verifier keeps used nonces only that long.
  const usableUntil = Math.min(expires, issued + (options.maxAgeMs ?? 300_000) + 60_000)
  return { ok: true, address: signer, nonce: p.nonce, expiresAt: usableUntil }
}
