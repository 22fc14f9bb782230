import { keccak_256 } from '@noble/hashes/sha3'
import type { Authorization } from '../types.js'

/** EIP-712 domain of an EIP-3009 token. */
export type TokenDomain = {
  name: string
  version: string
  chainId: number
  verifyingContract: string
}

const utf8 = (text: string) => Buffer.from(text, 'utf8')
const typeHash = keccak_256(
  utf8(
    'TransferWithAuthorization(address from,address to,uint256 value,uint256 validAfter,uint256 validBefore,bytes32 nonce)',
  ),
)
const domainTypeHash = keccak_256(
  utf8('EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)'),
)

function word(hex: string, into: Uint8Array, at: number) {
  // Left-pads a hex value (with or without 0x) into a 32-byte word.
  const clean = hex.startsWith('0x') ? hex.slice(2) : hex
  into.set(Buffer.from(clean.padStart(64, '0'), 'hex'), at)
}

const uintWord = (value: string | bigint | number) => BigInt(value).toString(16)

const domainCache = new Map<string, Uint8Array>()

/** The EIP-712 domain separator, cached per domain. */
export function domainSeparator(domain: TokenDomain): Uint8Array {
  const key = `${domain.name}\u0000${domain.version}\u0000${domain.chainId}\u0000${domain.verifyingContract.toLowerCase()}`
  let cached = domainCache.get(key)
  if (!cached) {
    const buf = new Uint8Array(160)
    buf.set(domainTypeHash, 0)
    buf.set(keccak_256(utf8(domain.name)), 32)
    buf.set(keccak_256(utf8(domain.version)), 64)
    word(uintWord(domain.chainId), buf, 96)
    word(domain.verifyingContract, buf, 128)
    cached = keccak_256(buf)
    if (domainCache.size > 1000) domainCache.clear()
    domainCache.set(key, cached)
  }
  return cached
}

/**
 * The 32-byte EIP-712 digest a `TransferWithAuthorization` signature signs.
 *
 * @example
 * const digest = transferDigest(domain, authorization)
 */
export function transferDigest(domain: TokenDomain, auth: Authorization): Uint8Array {
  const struct = new Uint8Array(224)
  struct.set(typeHash, 0)
  word(auth.from, struct, 32)
  word(auth.to, struct, 64)
  word(uintWord(auth.value), struct, 96)
  word(uintWord(auth.validAfter), struct, 128)
  word(uintWord(auth.validBefore), struct, 160)
  word(auth.nonce, struct, 192)
  const message = new Uint8Array(66)
  message[0] = 0x19
  message[1] = 0x01
  message.set(domainSeparator(domain), 2)
  message.set(keccak_256(struct), 34)
  return keccak_256(message)
}
