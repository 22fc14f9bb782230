// The HTTP/1.1 answer head as the facilitator client reads it (httpJson.ts): the status, how
// the body is framed, and whether the connection may be kept.

/** The longest response head and body accepted: a facilitator's answers are a few KB. */
export const maxHead = 64 * 1024
export const maxBody = 16 * 1024 * 1024

/** A protocol or socket failure, with a Node-style `code` (`EPROTO`, `ECONNRESET`, `ETIMEDOUT`). */
export const failure = (message: string, code: string) => Object.assign(new Error(message), { code })

export type ResponseHead = {
  status: number
  /** The connection must be closed after this answer. */
  close: boolean
  /** The body's length, or -1 when it is chunked or ends with the connection. */
  length: number
  chunked: boolean
  /** The server's `Keep-Alive: timeout=` in seconds, when it sent one. */
  keepAliveSeconds: number | undefined
}

/**
 * Reads an answer head (the text before the blank line); `undefined` for an interim (1xx)
 * answer, whose next head is read instead. `knownLength` is a content-length already read
 * for this answer (-1 if none): a second, different one is refused. `bodiless`: the request
 * was a HEAD, so the answer has no body. Throws an `EPROTO` failure for anything malformed.
 */
export function parseResponseHead(text: string, knownLength: number, bodiless: boolean): ResponseHead | undefined {
  const lines = text.split('\r\n')
  const statusLine = /^HTTP\/1\.([01]) ([1-9]\d\d)(?: |$)/.exec(lines[0] as string)
  if (!statusLine) throw failure(`not an HTTP/1.x answer: ${JSON.stringify(lines[0]?.slice(0, 40))}`, 'EPROTO')
  const status = Number(statusLine[2])
  if (status < 200 && status !== 101) return undefined
  if (status === 101) throw failure('the server switched protocols', 'EPROTO')
  let close = statusLine[1] === '0'
  let length = knownLength
  let chunked = false
  let keepAliveSeconds: number | undefined
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i] as string
    const colon = line.indexOf(':')
    if (colon <= 0) throw failure(`a malformed answer header: ${JSON.stringify(line.slice(0, 40))}`, 'EPROTO')
    const name = line.slice(0, colon).toLowerCase()
    const value = line
      .slice(colon + 1)
      .trim()
      .toLowerCase()
    if (name === 'content-length') {
      if (!/^\d{1,15}$/.test(value) || (length >= 0 && length !== Number(value)))
        throw failure(`a bad content-length: ${JSON.stringify(value)}`, 'EPROTO')
      length = Number(value)
      if (length > maxBody) throw failure('the answer is too large', 'EPROTO')
    } else if (name === 'transfer-encoding') {
      // Only `chunked` alone: a body in another coding (gzip, …) is not JSON to read.
      chunked = value === 'chunked'
      if (!chunked) throw failure(`an unsupported transfer-encoding: ${value}`, 'EPROTO')
    } else if (name === 'connection') {
      if (/(?:^|,)\s*close\s*(?:,|$)/.test(value)) close = true
      else if (/(?:^|,)\s*keep-alive\s*(?:,|$)/.test(value) && statusLine[1] === '0') close = false
    } else if (name === 'keep-alive') {
      const timeout = /(?:^|,)\s*timeout=(\d+)/.exec(value)
      // The caller leaves a second's margin before the server's own timeout.
      if (timeout) keepAliveSeconds = Number(timeout[1])
    }
  }
  // A chunked body's length is in its chunks, whatever content-length said; an answer
  // that names both is not trusted with the connection afterwards.
  if (chunked) {
    if (length >= 0) close = true
    length = -1
  }
  // These never have a body, whatever their headers say.
  if (status === 204 || status === 304 || bodiless) {
    chunked = false
    length = 0
  }
  return { status, close, length, chunked, keepAliveSeconds }
}
