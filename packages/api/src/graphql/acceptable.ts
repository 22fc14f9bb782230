import Negotiator from 'negotiator'
import { type Refusal, refusal } from './refusal.js'

/**
 * Whether the server will send this operation's answer in a media type the caller's `Accept`
 * admits. Apollo Server and GraphQL Yoga decide it only after the operation ran (Apollo in
 * `runHttpQuery`, after `willSendResponse`; Yoga in `processResult`, after `onExecuteDone`)
 * and answer 406 then, when the payment would already be settled. So the paywall asks the
 * same question first, the way each server answers it, and refuses before anything is held.
 */

/** What Apollo Server sends a single result as (its `MEDIA_TYPES`), chosen with `negotiator` as Apollo does. */
const apolloSingle = ['application/json; charset=utf-8', 'application/graphql-response+json; charset=utf-8']
/** What Apollo Server sends an incremental (`@defer`, `@stream`) result as. */
const apolloIncremental = ['multipart/mixed; deferSpec=20220824', 'multipart/mixed; incrementalSpec=v0.2']
const apolloMultipart = ['multipart/mixed', ...apolloIncremental]

/** Apollo Server: `accept` as it reads it (absent: JSON); `deferred`, whether the document asks for incremental delivery. */
export function apolloAccepts(accept: string | undefined, deferred: () => boolean): boolean {
  if (!accept) return true
  const negotiator = new Negotiator({ headers: { accept } })
  if (negotiator.mediaType(apolloSingle)) return true
  // Apollo answers an incremental result only in one of its two multipart formats.
  const multipart = negotiator.mediaType(apolloMultipart)
  return multipart !== undefined && apolloIncremental.includes(multipart) && deferred()
}

/** What GraphQL Yoga's own result processors send (SSE, multipart, JSON), any of them for a single result. */
const yogaTypes = ['text/event-stream', 'multipart/mixed', 'application/graphql-response+json', 'application/json']

/**
 * GraphQL Yoga, as its `getMediaTypesForRequestInOrder` and `isMatchingMediaType` read
 * `accept` (absent: `*\/*`; `q` ignored; a charset other than UTF-8 drops the type).
 */
export function yogaAccepts(accept: string | null): boolean {
  if (!accept) return true
  for (const range of accept.replace(/\s/g, '').toLowerCase().split(',')) {
    const [mediaType = '', ...params] = range.split(';')
    const charset = params.find((param) => param.includes('charset=')) ?? 'charset=utf-8'
    if (charset !== 'charset=utf-8') continue
    const [type, subtype] = mediaType.split('/')
    for (const offered of yogaTypes) {
      const [pre, suf] = offered.split('/')
      if ((type === '*' || type === pre) && (subtype === '*' || subtype === suf)) return true
    }
  }
  return false
}

/** Whether a parsed document uses `@defer` or `@stream` anywhere (only asked when JSON is not acceptable). */
export function usesIncremental(document: unknown): boolean {
  const seen = new Set<unknown>()
  const visit = (node: unknown): boolean => {
    if (typeof node !== 'object' || node === null || seen.has(node)) return false
    seen.add(node)
    const named = node as { kind?: string; name?: { value?: string } }
    if (named.kind === 'Directive' && (named.name?.value === 'defer' || named.name?.value === 'stream')) return true
    for (const value of Object.values(node)) if (visit(value)) return true
    return false
  }
  return visit(document)
}

/** The 406 answered before anything is held: the same status the server would send, after the charge. */
export function notAcceptable(accept: string, offered: string[], price: string): Refusal {
  const refused = refusal(
    'NOT_ACCEPTABLE',
    'not_acceptable',
    `the Accept header (${accept.slice(0, 200)}) admits none of the media types this server answers GraphQL in (${offered.join(', ')}): nothing was run or charged; send Accept: application/json`,
    price,
    406,
  )
  refused.headers.push(['accept', offered.join(', ')])
  return refused
}

export const apolloOffered = ['application/json', 'application/graphql-response+json']
export const yogaOffered = [
  'application/graphql-response+json',
  'application/json',
  'text/event-stream',
  'multipart/mixed',
]
