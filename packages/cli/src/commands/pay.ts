import { formatMoney, X402Error } from '@402x/core'
import { clientOptionsFromEnv, createX402Client, X402HttpError } from '402x-client'
import { describePayError } from '../payError.js'
import { createUi } from '../ui.js'

export type PayOptions = {
  url: string
  method: string
  data?: string
  headers: string[]
  max?: string
  verbose: boolean
  json: boolean
}

const jsonSafe = (value: unknown) =>
  JSON.parse(JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)))

/** `402x pay <url>`: pays if asked (within `--max`), prints the body. Exit 1 on failure. */
export async function pay(options: PayOptions): Promise<number> {
  const ui = createUi({ json: options.json, quiet: !options.verbose })
  const base = clientOptionsFromEnv()
  const client = createX402Client({
    ...base,
    budget: { ...base.budget, ...(options.max ? { maxPerRequest: options.max } : {}) },
  })
  const headers: Record<string, string> = {}
  for (const h of options.headers) {
    const at = h.indexOf(':')
    if (at < 1) throw new X402Error('invalid_request', { message: `header "${h}" must look like "Name: value"` })
    headers[h.slice(0, at).trim()] = h.slice(at + 1).trim()
  }
  let body: unknown
  if (options.data !== undefined) {
    try {
      body = JSON.parse(options.data)
    } catch {
      body = options.data
    }
  }
  const method = options.method.toUpperCase()
  ui.step(`${method} ${options.url}`)
  try {
    const response =
      method === 'GET' || method === 'DELETE' || method === 'HEAD'
        ? await (method === 'DELETE' ? client.delete : client.get)(options.url, { headers })
        : await client[method.toLowerCase() as 'post' | 'put' | 'patch'](options.url, body, { headers })
    const creditToken = response.headers.get('x-402x-credit-token') ?? undefined
    if (options.json) {
      process.stdout.write(
        `${JSON.stringify(
          jsonSafe({
            status: response.status,
            data: response.data,
            receipt: response.receipt ?? null,
            ...(response.credit ? { credit: response.credit } : {}),
            ...(creditToken ? { creditToken } : {}),
          }),
        )}\n`,
      )
      return 0
    }
    process.stdout.write(
      `${typeof response.data === 'string' ? response.data : JSON.stringify(response.data, null, 2)}\n`,
    )
    const r = response.receipt
    if (r) {
      ui.done(`paid $${r.price} USDC to ${r.payTo} on ${r.network} (${r.status})`)
      ui.info(`  transaction ${r.transaction}\n  payer       ${r.payer}`)
    }
    const c = response.credit
    if (c) {
      const usd = (n: bigint) => formatMoney(n, c.decimals)
      ui.done(
        `charged $${usd(c.captured)} of $${usd(c.reserved)} reserved; $${usd(c.returned)} returned (${c.refund ?? 'credit'}); credit left $${usd(c.balance)}`,
      )
      if (creditToken) ui.info(`  credit token ${creditToken} (send it as Authorization: Bearer)`)
    }
    if (!r && !c) ui.done(`HTTP ${response.status}, no payment needed`)
    return 0
  } catch (error) {
    const message = describePayError(error, options.url)
    if (options.json) {
      process.stdout.write(
        `${JSON.stringify({ error: (error as X402Error).code ?? 'error', message, ...(error instanceof X402HttpError ? { status: error.response.status } : {}) })}\n`,
      )
    } else {
      process.stderr.write(`402x pay: ${message}\n`)
    }
    return 1
  }
}
