import { formatMoney } from '@402x/core'
import { BudgetExceededError, X402HttpError } from '402x-client'

/** Where each budget limit is set from the shell: `402x pay`'s flag, or the variable. */
const setting: Record<BudgetExceededError['limit'], string> = {
  maxPerRequest: '--max',
  maxTotal: 'X402_MAX_TOTAL',
  maxPerHost: 'X402_MAX_PER_HOST',
  maxPerDay: 'X402_MAX_PER_DAY',
  allowedHosts: 'X402_ALLOWED_HOSTS',
  allowedPayTo: 'the budget’s allowedPayTo',
}

/**
 * What `402x pay` says when a request fails: in the words of the shell (`--max`, not the
 * budget's `maxPerRequest`), and with the address and the cause when the server cannot be
 * reached (`fetch failed` alone says neither).
 */
export function describePayError(error: unknown, url: string): string {
  if (error instanceof X402HttpError) return `HTTP ${error.response.status}: ${JSON.stringify(error.response.data)}`
  if (error instanceof BudgetExceededError) {
    const how = setting[error.limit]
    const amount = typeof error.details.amount === 'string' ? BigInt(error.details.amount) : undefined
    const advice =
      error.limit === 'maxPerRequest' && amount !== undefined
        ? `pass --max ${formatMoney(amount, 6)} (or more) to allow it`
        : `raise it with ${how}`
    return `${error.message.replace(/ Raise \w+ in the budget to allow it\.$/, '').replace(/\.$/, '')}: ${advice}`
  }
  const cause = (error as { cause?: { code?: unknown; message?: unknown } } | undefined)?.cause
  if (error instanceof TypeError && error.message === 'fetch failed') {
    const origin = safeOrigin(url)
    const code = typeof cause?.code === 'string' ? cause.code : undefined
    const why =
      code === 'ECONNREFUSED'
        ? 'connection refused: nothing listens there'
        : String(cause?.message ?? code ?? 'fetch failed')
    return `cannot reach ${origin} (${why}). Is the server running? With \`402x dev\`, use the demo API URL its banner prints: it moves off port 4021 when that port is busy`
  }
  return (error as Error).message
}

const safeOrigin = (url: string) => {
  try {
    return new URL(url).origin
  } catch {
    return url
  }
}
