import { request as httpRequest } from 'node:http'
import { request as httpsRequest } from 'node:https'
import type { LookupFunction } from 'node:net'
import { resolvePublic, urlProblem, WebhookUrlError } from './checkWebhookUrl.js'

/** How one POST ended: a 2xx is delivered; anything else is the error to record. */
export type PostResult = { ok: true; status: number } | { ok: false; error: string }

/**
 * POSTs one signed event. The host is resolved and checked by the SSRF guard, and the
 * connection goes to the checked address; the whole attempt (connect, send, the answer's
 * head and body) is bounded by `timeoutMs`. Never throws.
 *
 * @example
 * const result = await postWebhook({ url, headers, body, timeoutMs: 10_000, localChain: false })
 */
export function postWebhook(input: {
  url: string
  headers: Record<string, string>
  body: string
  timeoutMs: number
  localChain: boolean
}): Promise<PostResult> {
  // A literal address is never looked up: `urlProblem` refuses an internal one first.
  const problem = urlProblem(input.url, input.localChain)
  if (problem) return Promise.resolve({ ok: false, error: problem })
  const url = new URL(input.url)
  const lookup: LookupFunction = (hostname, options, callback) => {
    resolvePublic(hostname, input.localChain).then(
      (found) => {
        const wanted = options.family === 4 || options.family === 6 ? options.family : undefined
        const pick = found.filter((a) => !wanted || a.family === wanted)
        if (options.all) callback(null, pick)
        else callback(null, pick[0]?.address ?? '', pick[0]?.family ?? 4)
      },
      (error: Error) => callback(error as NodeJS.ErrnoException, '', 4),
    )
  }
  return new Promise((resolve) => {
    let done = false
    const end = (result: PostResult) => {
      if (done) return
      done = true
      clearTimeout(timer)
      resolve(result)
    }
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest
    const req = send(
      url,
      {
        method: 'POST',
        lookup,
        agent: false,
        headers: {
          ...input.headers,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(input.body),
          'user-agent': '402x-webhooks',
        },
      },
      (res) => {
        const status = res.statusCode ?? 0
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => {
          if (text.length < 500) text += chunk
        })
        res.on('error', (error) => end({ ok: false, error: `the answer broke off: ${error.message}` }))
        res.on('end', () =>
          end(
            status >= 200 && status < 300
              ? { ok: true, status }
              : { ok: false, error: `answered ${status}${text ? `: ${text.slice(0, 200)}` : ''}` },
          ),
        )
      },
    )
    const timer = setTimeout(() => {
      end({ ok: false, error: `no answer within ${input.timeoutMs} ms` })
      req.destroy()
    }, input.timeoutMs)
    req.on('error', (error) =>
      end({
        ok: false,
        error: error instanceof WebhookUrlError ? error.message : `could not send: ${error.message}`,
      }),
    )
    req.end(input.body)
  })
}
