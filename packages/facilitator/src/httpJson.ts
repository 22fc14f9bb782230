import { connect as netConnect, type Socket } from 'node:net'
import { type ConnectionOptions, connect as tlsConnect } from 'node:tls'
import { failure, maxBody, maxHead, parseResponseHead } from './httpHead.js'

export type HttpJsonAnswer = { status: number; text: string }

export type HttpJsonOptions = {
  /** Per-call limit: the call fails with an `ETIMEDOUT` error and its connection is closed. */
  timeoutMs: number
  /** Headers sent with every call (`content-type`, `authorization`, …). */
  headers?: Record<string, string>
  /** Idle connections are closed after this long. @default 4000 */
  idleMs?: number
  /** Open connections at most; calls beyond wait for one. @default 256 */
  maxSockets?: number
  /** Extra TLS options for an `https:` base (a private CA, for instance). */
  tls?: ConnectionOptions
}

const token = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/
const fieldValue = /^[\t\x20-\x7e\x80-\xff]*$/
const pathChars = /^\/[\x21-\x7e]*$/

type Call = {
  head: string
  /** A HEAD request: its answer has no body, whatever its headers say. */
  bodiless: boolean
  body: string | undefined
  resolve: (answer: HttpJsonAnswer) => void
  reject: (error: Error) => void
  timer?: NodeJS.Timeout
  /** The connection it was sent on. */
  conn?: { readonly call: Call | undefined; fail(error: Error): void }
}

/**
 * JSON over keep-alive HTTP/1.1 connections, one call at a time on each. This is on a paid
 * request's hot path (verify, then settle), so it writes each request in one piece and reads
 * only what it needs from the answer (status, `content-length`, `transfer-encoding`,
 * `connection`, `keep-alive`). Kept over undici's `Pool` because it costs 0.60 to 0.66× its CPU
 * per verify-and-settle pair (0.23 to 0.55× `node:http`'s): bench/RESULTS.md, "The facilitator
 * client" (`npm run bench -- --only client`). Answers may be sized, chunked or closed-delimited;
 * `1xx` are skipped.
 *
 * Idle connections are closed after `idleMs` (4 s), or sooner when the server announces a
 * shorter `keep-alive: timeout`, so a call is never sent on a connection the server is about
 * to close. A call is never retried: a POST to `/settle` may have reached the facilitator.
 * Rejects with the socket's error, `ECONNRESET` when the connection ends before a full
 * answer, `EPROTO` for an answer that is not HTTP/1.x, or `ETIMEDOUT` after `timeoutMs`.
 */
export function createHttpJson(base: string, options: HttpJsonOptions) {
  const target = new URL(base)
  if (target.protocol !== 'http:' && target.protocol !== 'https:')
    throw new TypeError(`the facilitator URL must be http: or https:, got ${target.protocol}`)
  const secure = target.protocol === 'https:'
  const host = target.hostname.replace(/^\[|\]$/g, '')
  const port = Number(target.port || (secure ? 443 : 80))
  const prefix = target.pathname.replace(/\/+$/, '')
  const idleMs = options.idleMs ?? 4_000
  const maxSockets = options.maxSockets ?? 256
  let fixed = `host: ${target.host}\r\n`
  for (const [name, value] of Object.entries(options.headers ?? {})) {
    if (!token.test(name) || !fieldValue.test(value))
      throw new TypeError(`the header ${JSON.stringify(name)} has a name or value HTTP does not allow`)
    fixed += `${name}: ${value}\r\n`
  }

  const idle: Conn[] = []
  const waiting: Call[] = []
  let open = 0
  let sweeper: NodeJS.Timeout | undefined

  class Conn {
    readonly socket: Socket
    call: Call | undefined
    idleSince = 0
    keepFor = idleMs
    private retired = false
    private buffer: Buffer | undefined
    private status = 0
    private bodyStart = -1
    private length = -1
    private chunked = false
    private close = false
    private chunks: Buffer[] = []
    private received = 0
    /** Reads not yet joined to `buffer`, while fewer than `need` bytes are in: a large body is copied once. */
    private pending: Buffer[] = []
    private pendingBytes = 0
    private need = 0

    constructor() {
      // `open` counts the connection only once its socket exists: a TLS option that makes
      // `connect` throw must not use up a place for good.
      this.socket = secure
        ? tlsConnect({
            host,
            port,
            servername: isIp(host) ? undefined : host,
            ALPNProtocols: ['http/1.1'],
            ...options.tls,
          })
        : netConnect({ host, port })
      open++
      this.socket.setNoDelay(true)
      this.socket.on('data', (data: Buffer) => this.read(data))
      this.socket.on('error', (error) => this.fail(error))
      this.socket.on('end', () => this.ended())
      this.socket.on('close', () => this.fail(failure('socket hang up', 'ECONNRESET')))
    }

    send(call: Call) {
      this.call = call
      call.conn = this
      this.socket.ref()
      this.socket.write(call.body === undefined ? call.head : call.head + call.body)
    }

    private read(data: Buffer) {
      if (!this.call) {
        this.socket.destroy()
        return
      }
      if ((this.buffer?.length ?? 0) + this.pendingBytes + data.length < this.need) {
        this.pending.push(data)
        this.pendingBytes += data.length
        return
      }
      this.join(data)
      this.need = 0
      try {
        this.parse()
      } catch (error) {
        this.fail(error as Error)
      }
    }

    /** `buffer` with the reads kept aside, and `data`. */
    private join(data?: Buffer) {
      if (this.pending.length === 0) {
        // The usual case, an answer in one read: no list to build.
        if (data) this.buffer = this.buffer ? Buffer.concat([this.buffer, data]) : data
        return
      }
      const parts = [...(this.buffer ? [this.buffer] : []), ...this.pending, ...(data ? [data] : [])]
      this.buffer = parts.length === 1 ? parts[0] : Buffer.concat(parts)
      this.pending = []
      this.pendingBytes = 0
    }

    private parse(): void {
      while (this.bodyStart < 0) {
        const buffer = this.buffer as Buffer
        const end = buffer.indexOf('\r\n\r\n', 0, 'latin1')
        if (end < 0) {
          if (buffer.length > maxHead) throw failure('the answer head is too large', 'EPROTO')
          return
        }
        // A 1xx answer is skipped: the next head is read.
        if (this.head(buffer.toString('latin1', 0, end))) this.bodyStart = end + 4
        else this.buffer = buffer.subarray(end + 4)
      }
      const buffer = this.buffer as Buffer
      if (this.chunked) this.dechunk()
      else if (this.length >= 0) {
        if (buffer.length - this.bodyStart < this.length) {
          this.need = this.bodyStart + this.length
          return
        }
        if (buffer.length - this.bodyStart > this.length) this.close = true
        this.done(buffer.toString('utf8', this.bodyStart, this.bodyStart + this.length))
      } else {
        // With neither, the body ends when the server closes the connection (see `ended`).
        if (buffer.length - this.bodyStart > maxBody) throw failure('the answer is too large', 'EPROTO')
        this.need = this.bodyStart + maxBody + 1
      }
    }

    /** Reads a response head; false for an interim (1xx) answer. */
    private head(text: string) {
      const head = parseResponseHead(text, this.length, this.call?.bodiless === true)
      if (!head) return false
      this.status = head.status
      this.close = head.close
      this.length = head.length
      this.chunked = head.chunked
      if (head.keepAliveSeconds !== undefined) this.keepFor = Math.min(idleMs, (head.keepAliveSeconds - 1) * 1000)
      return true
    }

    private dechunk() {
      let buffer = this.buffer as Buffer
      let at = this.bodyStart
      /** Waiting for the rest of a chunk whose size is read (not for a size line or trailers). */
      let inChunk = false
      for (;;) {
        const lineEnd = buffer.indexOf('\r\n', at, 'latin1')
        if (lineEnd < 0) break
        const size = /^([0-9a-fA-F]{1,8})(?:;|\s|$)/.exec(buffer.toString('latin1', at, lineEnd))
        if (!size) throw failure('a malformed chunk size', 'EPROTO')
        const length = Number.parseInt(size[1] as string, 16)
        if (length === 0) {
          // The last chunk, then trailers up to an empty line.
          const end = buffer.indexOf('\r\n\r\n', lineEnd, 'latin1')
          if (end < 0) break
          const text = Buffer.concat(this.chunks).toString('utf8')
          if (buffer.length > end + 4) this.close = true
          return this.done(text)
        }
        if (this.received + length > maxBody) throw failure('the answer is too large', 'EPROTO')
        if (buffer.length < lineEnd + 2 + length + 2) {
          inChunk = true
          // Nothing to read before the whole chunk is in.
          this.need = lineEnd + 2 + length + 2 - at
          break
        }
        if (buffer[lineEnd + 2 + length] !== 13 || buffer[lineEnd + 3 + length] !== 10)
          throw failure('a chunk longer than its size', 'EPROTO')
        this.received += length
        this.chunks.push(buffer.subarray(lineEnd + 2, lineEnd + 2 + length))
        at = lineEnd + 2 + length + 2
      }
      // Keep only what is not yet read; the chunks already read are in `chunks`.
      buffer = buffer.subarray(at)
      this.buffer = buffer
      this.bodyStart = 0
      // A chunk may be as large as the body may; a size line or the trailers may not.
      if (!inChunk && buffer.length > maxHead) throw failure('a malformed chunk', 'EPROTO')
    }

    private ended() {
      const call = this.call
      if (call && this.bodyStart >= 0 && this.length < 0 && !this.chunked) {
        this.join()
        const text = (this.buffer as Buffer).toString('utf8', this.bodyStart)
        this.close = true
        return this.done(text)
      }
      this.fail(failure('socket hang up', 'ECONNRESET'))
    }

    private done(text: string) {
      const call = this.call as Call
      const status = this.status
      this.reset()
      if (this.close) this.retire()
      else {
        this.idleSince = performance.now()
        this.socket.unref()
        idle.push(this)
        sweep()
      }
      settle(call)
      call.resolve({ status, text })
      next()
    }

    private reset() {
      this.call = undefined
      this.buffer = undefined
      this.pending = []
      this.pendingBytes = 0
      this.need = 0
      this.status = 0
      this.bodyStart = -1
      this.length = -1
      this.chunked = false
      this.chunks = []
      this.received = 0
    }

    fail(error: Error) {
      const call = this.call
      this.retire()
      if (call) {
        settle(call)
        call.reject(error)
      }
    }

    /** Closes the connection and forgets it; idempotent. */
    retire() {
      this.call = undefined
      const at = idle.indexOf(this)
      if (at >= 0) idle.splice(at, 1)
      if (!this.socket.destroyed) this.socket.destroy()
      if (!this.retired) {
        this.retired = true
        open--
        next()
      }
    }
  }

  const settle = (call: Call) => {
    if (call.timer) clearTimeout(call.timer)
  }

  /** Closes idle connections past their keep-alive while any are idle. */
  const sweep = () => {
    if (sweeper) return
    sweeper = setInterval(
      () => {
        const now = performance.now()
        for (const conn of idle.slice()) if (now - conn.idleSince >= conn.keepFor) conn.retire()
        if (idle.length === 0) {
          clearInterval(sweeper)
          sweeper = undefined
        }
      },
      Math.max(250, Math.min(1_000, idleMs / 2)),
    )
    sweeper.unref()
  }

  const take = (): Conn | undefined => {
    const now = performance.now()
    for (let conn = idle.pop(); conn; conn = idle.pop()) {
      if (now - conn.idleSince < conn.keepFor && !conn.socket.destroyed) return conn
      conn.retire()
    }
    if (open < maxSockets) return new Conn()
    return undefined
  }

  const next = () => {
    while (waiting.length > 0) {
      let conn: Conn | undefined
      try {
        conn = take()
      } catch (error) {
        // A connection that cannot be opened fails the call that waited for it.
        const call = waiting.shift() as Call
        settle(call)
        call.reject(error as Error)
        continue
      }
      if (!conn) return
      conn.send(waiting.shift() as Call)
    }
  }

  return (method: string, path: string, body?: string) =>
    new Promise<HttpJsonAnswer>((resolve, reject) => {
      const full = `${prefix}${path}`
      if (!token.test(method) || !pathChars.test(full)) {
        reject(new TypeError(`not a request HTTP allows: ${method} ${full}`))
        return
      }
      const length = body === undefined ? '' : `content-length: ${Buffer.byteLength(body)}\r\n`
      const call: Call = {
        head: `${method} ${full} HTTP/1.1\r\n${fixed}${length}\r\n`,
        bodiless: method === 'HEAD',
        body,
        resolve,
        reject,
      }
      call.timer = setTimeout(() => {
        const error = failure(`no answer within ${options.timeoutMs} ms`, 'ETIMEDOUT')
        if (call.conn) {
          if (call.conn.call === call) call.conn.fail(error)
          return
        }
        const at = waiting.indexOf(call)
        if (at >= 0) waiting.splice(at, 1)
        reject(error)
      }, options.timeoutMs)
      try {
        const conn = waiting.length === 0 ? take() : undefined
        if (conn) conn.send(call)
        else waiting.push(call)
      } catch (error) {
        // A connection that cannot even be opened (a bad TLS option): this call fails now.
        clearTimeout(call.timer)
        reject(error)
      }
    })
}

const isIp = (host: string) => /^[\d.]+$/.test(host) || host.includes(':')
