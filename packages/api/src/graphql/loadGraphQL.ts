import { createRequire } from 'node:module'
import type { GraphQLError } from 'graphql'
import type { Refusal } from './refusal.js'

let loaded: Promise<typeof import('graphql')> | undefined

/**
 * graphql, loaded on the first refusal: 402x-api imports without it. Required, not imported:
 * graphql 16 has no `exports` map, so Node gives Apollo and Yoga its CommonJS build, and
 * only that copy's `GraphQLError` is one they recognise (`instanceof`); a bundler that
 * prefers its `module` build would hand out a second class.
 */
export const loadGraphQL = () => {
  loaded ??= Promise.resolve().then(() => createRequire(import.meta.url)('graphql') as typeof import('graphql'))
  return loaded
}

/** A refusal as a `GraphQLError`, with `http` (status, headers) in the shape the server reads. */
export async function refusalError(refusal: Refusal, http: Record<string, unknown>): Promise<GraphQLError> {
  const { GraphQLError } = await loadGraphQL()
  return new GraphQLError(refusal.message, { extensions: { ...refusal.extensions, http } })
}

/** A refusal as a formatted error (the JSON sent), for an answer already formatted. */
export const formattedError = (refusal: Refusal) => ({ message: refusal.message, extensions: refusal.extensions })
