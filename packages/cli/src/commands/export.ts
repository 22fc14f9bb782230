import { createWriteStream } from 'node:fs'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { parseArgs } from 'node:util'
import { X402Error } from '@402x/core'
import { adminTarget } from '../adminClient.js'
import { withJsonErrors } from '../jsonErrors.js'
import { createUi } from '../ui.js'
import { paymentsUsage } from './payments.js'

const usage = (why: string) => new X402Error('invalid_request', { message: `${why}\n\nUsage\n${paymentsUsage}` })

/**
 * `402x export --from --to [--kind payments|usage|credit|all] [--format csv|cloudevents] [-o file]`:
 * `GET /__402x/admin/export` streamed to stdout or a file. With `-o` and `--json`, one line:
 * `{ file, kind, format, rows, bytes }`.
 */
export function exportCommand(args: string[]): Promise<number> {
  return withJsonErrors('export', args, async () => {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        from: { type: 'string' },
        to: { type: 'string' },
        kind: { type: 'string', default: 'payments' },
        format: { type: 'string', default: 'csv' },
        key: { type: 'string' },
        output: { type: 'string', short: 'o' },
        payer: { type: 'string' },
        state: { type: 'string' },
        resource: { type: 'string' },
        url: { type: 'string' },
        token: { type: 'string' },
        json: { type: 'boolean', default: false },
      },
    })
    if (positionals.length > 0) throw usage(`unexpected "${positionals[0]}": export takes only options`)
    if (values.format !== 'csv' && values.format !== 'cloudevents')
      throw usage(`--format is "${values.format}": give csv or cloudevents`)
    const kinds = ['payments', 'usage', 'credit', 'all']
    if (!kinds.includes(values.kind)) throw usage(`--kind is "${values.kind}": give ${kinds.join(', ')}`)
    if (values.kind === 'all' && values.format !== 'cloudevents')
      throw usage('--kind all is CloudEvents only (each kind has its own CSV columns): add --format cloudevents')
    if (values.json && !values.output)
      throw usage('--json reports where the export went: give -o file (without it the export itself is stdout)')
    const query = new URLSearchParams({ kind: values.kind, format: values.format })
    for (const name of ['from', 'to', 'payer', 'state', 'resource', 'key'] as const) {
      const value = values[name]
      if (value !== undefined) query.set(name, value)
    }
    const target = adminTarget({ url: values.url, token: values.token })
    const url = `${target.url}/__402x/admin/export?${query}`
    let response: Response
    try {
      response = await fetch(url, {
        headers: target.token ? { authorization: `Bearer ${target.token}` } : {},
        signal: AbortSignal.timeout(600_000),
      })
    } catch (cause) {
      throw new X402Error('invalid_request', {
        message: `could not reach the admin API at ${url} (${(cause as Error).message}): check --url, or start the server (402x dev)`,
        cause,
      })
    }
    if (!response.ok || !response.body) {
      const text = await response.text()
      let body: { error?: string; message?: string } = {}
      try {
        body = JSON.parse(text)
      } catch {}
      throw new X402Error('invalid_request', {
        message: body.message ?? `${url} answered ${response.status} ${text.slice(0, 200)}`,
        details: { error: body.error ?? `http_${response.status}`, status: response.status },
      })
    }
    let lines = 0
    let bytes = 0
    const counted = Readable.fromWeb(response.body as import('node:stream/web').ReadableStream<Uint8Array>).map(
      (chunk: Buffer) => {
        bytes += chunk.length
        for (const byte of chunk) if (byte === 10) lines++
        return chunk
      },
    )
    await pipeline(counted, values.output ? createWriteStream(values.output) : process.stdout)
    // CSV counts its header line; the rows are what was exported.
    const rows = values.format === 'csv' ? Math.max(lines - 1, 0) : lines
    if (values.json)
      process.stdout.write(
        `${JSON.stringify({ file: values.output, kind: values.kind, format: values.format, rows, bytes })}\n`,
      )
    else if (values.output)
      createUi({ json: false }).done(
        `exported ${rows} ${values.kind === 'all' ? 'events' : values.kind === 'usage' ? 'usage events' : values.kind === 'credit' ? 'credit entries' : 'payments'} to ${values.output}`,
      )
    return 0
  })
}
