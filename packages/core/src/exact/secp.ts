import { createRequire } from 'node:module'
import { keccak_256 } from '@noble/hashes/sha3'

type Native = {
  ecdsaRecover(sig: Uint8Array, recid: number, msg32: Uint8Array, compressed?: boolean): Uint8Array
  ecdsaSign(msg32: Uint8Array, privateKey: Uint8Array): { signature: Uint8Array; recid: number }
}

function loadNative(): Native | undefined {
  if (process.env.X402_PURE_JS === '1') return undefined
  try {
    // The `secp256k1` package loads libsecp256k1 through a prebuilt N-API binding, or falls
    // back to its own pure-JS `elliptic` build; only the native one is worth using here.
    const require = createRequire(import.meta.url)
    return require('secp256k1/bindings') as Native
  } catch {
    return undefined
  }
}

const native = loadNative()

type Noble = typeof import('@noble/curves/secp256k1').secp256k1
let nobleCache: Noble | undefined
/** The pure-JS fallback, loaded only when the native binding is not available. */
const noble = (): Noble => {
  nobleCache ??= (createRequire(import.meta.url)('@noble/curves/secp256k1') as { secp256k1: Noble }).secp256k1
  return nobleCache
}

/** Which secp256k1 implementation is in use: `native` (libsecp256k1) or `js` (noble). */
export const secpBackend: 'native' | 'js' = native ? 'native' : 'js'

/** Half the curve order: signatures with a higher `s` are malleable and refused by USDC. */
export const secpHalfOrder = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0n

/**
 * Recovers the signer's address (lowercase, 0x-prefixed) from a 65-byte signature over a
 * 32-byte digest; `undefined` when the signature does not recover.
 */
export function recoverAddress(digest: Uint8Array, signature: Uint8Array): string | undefined {
  if (signature.length !== 65) return undefined
  const v = signature[64] as number
  const recid = v >= 27 ? v - 27 : v
  if (recid !== 0 && recid !== 1) return undefined
  let publicKey: Uint8Array
  try {
    if (native) {
      publicKey = native.ecdsaRecover(signature.subarray(0, 64), recid, digest, false)
    } else {
      const sig = noble().Signature.fromCompact(signature.subarray(0, 64)).addRecoveryBit(recid)
      publicKey = sig.recoverPublicKey(digest).toRawBytes(false)
    }
  } catch {
    return undefined
  }
  const hash = keccak_256(publicKey.subarray(1))
  return `0x${Buffer.from(hash.subarray(12)).toString('hex')}`
}

/** Signs a 32-byte digest; returns the 65-byte r‖s‖v signature with v = 27 or 28. */
export function signDigest(digest: Uint8Array, privateKey: Uint8Array): Uint8Array {
  const out = new Uint8Array(65)
  if (native) {
    const { signature, recid } = native.ecdsaSign(digest, privateKey)
    out.set(signature, 0)
    out[64] = 27 + recid
  } else {
    const sig = noble().sign(digest, privateKey, { lowS: true })
    out.set(sig.toCompactRawBytes(), 0)
    out[64] = 27 + (sig.recovery ?? 0)
  }
  return out
}
