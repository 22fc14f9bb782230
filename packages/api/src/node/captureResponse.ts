import type { OutgoingHttpHeaders, ServerResponse } from 'node:http'
import { knownBody, responseOf } from '../paywall/knownBody.js'
import { handlerFailed } from '../paywall/responses.js'
import { isEventStream, streamWebResponse } from './streamWebResponse.js'

type Writer = {
  write: ServerResponse['write']
  end: ServerResponse['end']
  writeHead: ServerResponse['writeHead']
  flushHeaders: ServerResponse['flushHeaders']
}

export type Capture = {
  /** Resolves with the handler's response once it calls `end()`. */
  done: Promise<Response>
  /** Puts the real writer back. */
  restore(): void
}

/**
 * What a handler answered, kept on the Node response: the status and headers stay set on
 * `res`; `status` is the one to send (500 for one outside 200–599); `body` is what it
 * wrote (`null` for a status without a body). `midway`: it failed (status ≥ 400) after it
 * had started a body under a status < 400.
 */
export type Captured = { status: number; body: Buffer | null; midway: boolean }

/** {@link Capture} without a Web `Response`. */
export type RawCapture = { done: Promise<Captured>; restore(): void }

const noBody = new Set([101, 204, 205, 304])

/**
 * A `writeHead` that only records: the status and headers stay on `res` (and may still
 * change) until the real `writeHead` sends them. The adapters hold a paid answer's head
 * with it until the payment or charge is settled (`res.writeHead = heldWriteHead`; one
 * shared function: it reads the response from `this`).
 */
export const heldWriteHead = function writeHead(this: ServerResponse, status: number, ...rest: unknown[]) {
  this.statusCode = status
  for (const arg of rest) {
    if (typeof arg === 'string') this.statusMessage = arg
    else if (Array.isArray(arg)) {
      for (let i = 0; i < arg.length; i += 2) this.setHeader(String(arg[i]), arg[i + 1] as string)
    } else if (arg && typeof arg === 'object') {
      for (const [k, v] of Object.entries(arg as OutgoingHttpHeaders)) if (v !== undefined) this.setHeader(k, v)
    }
  }
  return this
} as ServerResponse['writeHead']

/** The bytes of what a handler passed to `write()`/`end()`; `undefined` for none. */
export function chunkBytes(chunk: unknown, encoding?: unknown): Buffer | undefined {
  if (chunk === undefined || chunk === null || typeof chunk === 'function') return undefined
  return typeof chunk === 'string'
    ? Buffer.from(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8')
    : Buffer.from(chunk as Uint8Array)
}

/** Calls the callback among `write()`/`end()` arguments, as Node would once written. */
export function callBack(args: unknown[]): void {
  const cb = args.find((a) => typeof a === 'function') as (() => void) | undefined
  if (cb) queueMicrotask(cb)
}

/** The headers set on a Node response, as Web `Headers` (each Set-Cookie kept apart). */
export function headersOf(res: ServerResponse): Headers {
  const headers = new Headers()
  for (const [name, value] of Object.entries(res.getHeaders())) {
    if (value === undefined) continue
    if (Array.isArray(value)) for (const v of value) headers.append(name, v)
    else headers.set(name, String(value))
  }
  return headers
}

/**
 * Buffers what a handler writes to a Node response (status, headers, body) instead of
 * sending it, so the payment settles before anything reaches the caller.
 */
export function captureResponse(res: ServerResponse): Capture {
  const raw = captureRaw(res)
  return {
    done: raw.done.then(({ status, body, midway }) =>
      midway ? handlerFailed(status, true) : responseOf(body, { status, headers: headersOf(res) }),
    ),
    restore: raw.restore,
  }
}

/** {@link captureResponse}, resolving with the bytes and status: no Web objects. */
export function captureRaw(res: ServerResponse): RawCapture {
  const original: Writer = {
    write: res.write,
    end: res.end,
    writeHead: res.writeHead,
    flushHeaders: res.flushHeaders,
  }
  const chunks: Buffer[] = []
  // The status when the handler started its body: a 2xx body that ends as an error (the
  // handler threw midway, and an error handler wrote its page after it) is thrown away.
  let bodyStatus: number | undefined
  let resolve!: (captured: Captured) => void
  const done = new Promise<Captured>((r) => {
    resolve = r
  })
  const push = (chunk: unknown, encoding?: unknown) => {
    const bytes = chunkBytes(chunk, encoding)
    if (bytes) chunks.push(bytes)
  }
  res.writeHead = heldWriteHead
  res.flushHeaders = () => {}
  res.write = ((chunk: unknown, ...rest: unknown[]) => {
    bodyStatus ??= res.statusCode
    push(chunk, rest[0])
    callBack(rest)
    return true
  }) as ServerResponse['write']
  res.end = ((chunk?: unknown, ...rest: unknown[]) => {
    push(chunk, rest[0])
    callBack(rest)
    const status = res.statusCode
    // Part of a paid body was written before the failure: none of it goes out unpaid.
    const midway = bodyStatus !== undefined && bodyStatus < 400 && status >= 400
    const body = noBody.has(status) ? null : chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks)
    resolve({ status: status < 200 || status > 599 ? 500 : status, body, midway })
    return res
  }) as ServerResponse['end']
  return {
    done,
    restore() {
      Object.assign(res, original)
    },
  }
}

/**
 * Sends a captured answer on `res` (writer restored): its status, the headers already on
 * `res` plus `extra`, and its body (none for HEAD).
 */
export function sendCaptured(
  res: ServerResponse,
  captured: Captured,
  extra: [string, string][] | undefined,
  head = false,
): void {
  if (extra) for (const [name, value] of extra) res.setHeader(name, value)
  res.statusCode = captured.status
  const body = head ? null : captured.body
  if (body && !res.hasHeader('content-length')) res.setHeader('content-length', body.length)
  res.end(body ?? undefined)
}

/** Writes a Web `Response` to a Node response, replacing any headers already set. */
export async function sendWebResponse(res: ServerResponse, response: Response, head = false): Promise<void> {
  for (const name of res.getHeaderNames()) if (!response.headers.has(name)) res.removeHeader(name)
  const cookies = response.headers.getSetCookie()
  response.headers.forEach((value, name) => {
    if (name !== 'set-cookie') res.setHeader(name, value)
  })
  if (cookies.length) res.setHeader('set-cookie', cookies)
  res.statusCode = response.status
  if (!head && isEventStream(response)) return streamWebResponse(res, response)
  const known = knownBody(response)
  const body =
    head || !response.body
      ? undefined
      : known !== undefined && known !== null
        ? Buffer.from(known)
        : Buffer.from(await response.arrayBuffer())
  if (body && !res.hasHeader('content-length')) res.setHeader('content-length', body.length)
  res.end(body)
}
