import { X402Error } from '@402x/core'
import { generateApiKey, hashApiKey, keyAccount, newKeyId } from './generateApiKey.js'
import type { ApiKeyRecord, NewApiKey } from './types.js'

const invalid = (message: string, field: string) =>
  new X402Error('invalid_request', { message: `create(): ${message}`, details: { field } })

/** Checks what `KeyStore.create` is given; an `invalid_request` error names the field. */
function checkNewKey(input: NewApiKey, now: number): void {
  if (typeof input !== 'object' || input === null) throw invalid('give { name, plan, mode }', 'input')
  if (typeof input.name !== 'string' || input.name.trim() === '')
    throw invalid('`name` must be a non-empty string, e.g. "acme production"', 'name')
  if (typeof input.plan !== 'string' || input.plan.trim() === '')
    throw invalid('`plan` must be a plan name, e.g. "free"', 'plan')
  if (input.mode !== 'live' && input.mode !== 'test') throw invalid('`mode` must be "live" or "test"', 'mode')
  if (input.owner !== undefined && typeof input.owner !== 'string') throw invalid('`owner` must be a string', 'owner')
  if (input.expiresAt !== undefined && (!Number.isSafeInteger(input.expiresAt) || input.expiresAt <= now))
    throw invalid(
      `\`expiresAt\` must be a ms epoch in the future, got ${input.expiresAt}: e.g. Date.now() + 30 * 86_400_000`,
      'expiresAt',
    )
  for (const [key, value] of Object.entries(input.metadata ?? {}))
    if (typeof value !== 'string') throw invalid(`\`metadata.${key}\` must be a string`, `metadata.${key}`)
}

/** A new key and its record (the hash, never the key), as every `KeyStore` creates one. */
export function newKeyRecord(input: NewApiKey, now: number): { key: string; record: ApiKeyRecord } {
  checkNewKey(input, now)
  const key = generateApiKey(input.mode)
  const id = newKeyId()
  return {
    key,
    record: {
      id,
      name: input.name,
      owner: input.owner,
      plan: input.plan,
      metadata: { ...input.metadata },
      start: key.slice(0, 14),
      hash: hashApiKey(key),
      account: keyAccount(id),
      createdAt: now,
      expiresAt: input.expiresAt,
      revokedAt: undefined,
    },
  }
}
