import { readFileSync } from 'node:fs'
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import { createServer, type Server, type Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { createHttpJson } from './httpJson.js'

const fixture = (name: string) => readFileSync(new URL(`../../../test/fixtures/tls/${name}`, import.meta.url))

/** A raw TCP server: `answer` writes whatever bytes a test wants for each request head it reads. */
type Raw = { url: string; server: Server; sockets: Set<Socket>; requests: string[]; connections: number }
const servers: (Server | HttpServer)[] = []
/** Every raw server's open sockets: closed after each test, so `close` does not wait for the client's idle ones. */
const rawSockets = new Set<Socket>()
afterEach(async () => {
  for (const socket of rawSockets) socket.destroy()
  rawSockets.clear()
  for (const server of servers.splice(0)) {
    ;(server as HttpServer).closeAllConnections?.()
    await new Promise((resolve) => server.close(resolve))
  }
})

const listen = async (server: Server | HttpServer) => {
  servers.push(server)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  if (!address || typeof address === 'string') throw new Error('no port')
  return address.port
}

async function raw(answer: (socket: Socket, request: string, index: number) => void): Promise<Raw> {
  const state = { sockets: new Set<Socket>(), requests: [] as string[], connections: 0 }
  const server = createServer((socket) => {
    state.connections++
    state.sockets.add(socket)
    rawSockets.add(socket)
    socket.on('close', () => {
      state.sockets.delete(socket)
      rawSockets.delete(socket)
    })
    socket.on('error', () => {})
    let pending = ''
    socket.on('data', (data) => {
      pending += data.toString('latin1')
      for (;;) {
        const end = pending.indexOf('\r\n\r\n')
        if (end < 0) return
        const length = Number(/content-length: (\d+)/i.exec(pending.slice(0, end))?.[1] ?? 0)
        if (pending.length < end + 4 + length) return
        const request = pending.slice(0, end + 4 + length)
        pending = pending.slice(end + 4 + length)
        state.requests.push(request)
        answer(socket, request, state.requests.length - 1)
      }
    })
  })
  const port = await listen(server)
  return Object.assign(state, { url: `http://127.0.0.1:${port}`, server })
}

const json = (body: string, extra = '') =>
  `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`

/** Writes `bytes` one at a time, as a slow network would deliver them. */
const trickle = async (socket: Socket, bytes: string) => {
  for (const byte of Buffer.from(bytes)) {
    socket.write(Buffer.from([byte]))
    await new Promise((resolve) => setImmediate(resolve))
  }
}

const codeOf = async (promise: Promise<unknown>) =>
  promise.then(
    () => 'resolved',
    (error: NodeJS.ErrnoException) => error.code,
  )

describe('createHttpJson', () => {
  it('sends the method, path, fixed headers and body in one request, and keeps the connection for the next call', async () => {
    const server = await raw((socket) => socket.write(json('{"ok":true}')))
    const call = createHttpJson(`${server.url}/facilitator/`, {
      timeoutMs: 5_000,
      headers: { 'content-type': 'application/json', authorization: 'Bearer k' },
    })
    expect(await call('POST', '/verify', '{"a":"é"}')).toEqual({ status: 200, text: '{"ok":true}' })
    expect(await call('GET', '/supported')).toEqual({ status: 200, text: '{"ok":true}' })
    expect(server.connections).toBe(1)
    const [post, get] = server.requests
    // The server reads bytes as latin1.
    expect(Buffer.from(post as string, 'latin1').toString('utf8')).toBe(
      `POST /facilitator/verify HTTP/1.1\r\nhost: ${server.url.slice(7)}\r\ncontent-type: application/json\r\nauthorization: Bearer k\r\ncontent-length: 10\r\n\r\n{"a":"é"}`,
    )
    expect(get).toMatch(/^GET \/facilitator\/supported HTTP\/1\.1\r\n/)
    expect(get).not.toMatch(/content-length/)
  })

  it('reads an answer delivered a byte at a time, sized or chunked with extensions and trailers', async () => {
    const chunked =
      'HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n4;x=1\r\n{"a"\r\n6\r\n:"é"}\r\n0\r\nx-trailer: 1\r\n\r\n'
    const server = await raw((socket, _request, index) => {
      void trickle(socket, index % 2 === 0 ? json(`{"big":"${'x'.repeat(1000)}"}`) : chunked)
    })
    const call = createHttpJson(server.url, { timeoutMs: 5_000 })
    const sized = await call('GET', '/a')
    expect(sized.status).toBe(200)
    expect(JSON.parse(sized.text).big).toHaveLength(1000)
    expect(await call('GET', '/b')).toEqual({ status: 201, text: '{"a":"é"}' })
    // Both answers ended cleanly, so one connection served both.
    expect(await call('GET', '/a')).toMatchObject({ status: 200 })
    expect(server.connections).toBe(1)
  })

  it('reads a chunk larger than a read, and refuses a chunked answer over the body limit or a size line without end', async () => {
    const big = `{"big":"${'x'.repeat(200_000)}"}`
    const answers = [
      `HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n${Buffer.byteLength(big).toString(16)}\r\n${big}\r\n0\r\n\r\n`,
      'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n1000001\r\n',
      `HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n1${'0'.repeat(70_000)}`,
    ]
    const server = await raw((socket, _request, index) => {
      const bytes = Buffer.from(answers[index] as string)
      // In pieces of 16 KB, as a network delivers a large answer.
      for (let at = 0; at < bytes.length; at += 16_384) socket.write(bytes.subarray(at, at + 16_384))
    })
    const call = createHttpJson(server.url, { timeoutMs: 5_000 })
    expect(JSON.parse((await call('GET', '/')).text).big).toHaveLength(200_000)
    expect(await codeOf(call('GET', '/'))).toBe('EPROTO')
    expect(await codeOf(call('GET', '/'))).toBe('EPROTO')
  })

  it('reads a large sized or close-delimited answer that arrives in many reads', async () => {
    const big = `{"big":"${'é'.repeat(1_000_000)}"}`
    const server = await raw((socket, _request, index) => {
      const bytes = Buffer.from(index === 0 ? json(big) : `HTTP/1.0 200 OK\r\n\r\n${big}`)
      for (let at = 0; at < bytes.length; at += 7_001) socket.write(bytes.subarray(at, at + 7_001))
      if (index === 1) socket.end()
    })
    const call = createHttpJson(server.url, { timeoutMs: 10_000 })
    expect((await call('GET', '/sized')).text).toBe(big)
    expect((await call('GET', '/closed')).text).toBe(big)
  })

  it('reads 204 and 304 as bodiless whatever their headers say, and refuses a body in a coding other than chunked', async () => {
    const server = await raw((socket, _request, index) => {
      if (index === 0) socket.write('HTTP/1.1 204 No Content\r\ntransfer-encoding: chunked\r\n\r\n')
      else if (index === 1) socket.write('HTTP/1.1 304 Not Modified\r\ncontent-length: 10\r\n\r\n')
      else if (index === 2) socket.write(json('{"n":2}'))
      else socket.write('HTTP/1.1 200 OK\r\ntransfer-encoding: gzip, chunked\r\n\r\n5\r\nxxxxx\r\n0\r\n\r\n')
    })
    const call = createHttpJson(server.url, { timeoutMs: 2_000 })
    expect(await call('GET', '/a')).toEqual({ status: 204, text: '' })
    expect(await call('GET', '/b')).toEqual({ status: 304, text: '' })
    expect(await call('GET', '/c')).toEqual({ status: 200, text: '{"n":2}' })
    expect(await codeOf(call('GET', '/d'))).toBe('EPROTO')
  })

  it('reads the answer to HEAD as bodiless (its content-length is the GET body it would have) and keeps the connection', async () => {
    const server = await raw((socket, request) => {
      if (request.startsWith('HEAD ')) socket.write('HTTP/1.1 200 OK\r\ncontent-length: 7\r\n\r\n')
      else socket.write(json('{"n":1}'))
    })
    const call = createHttpJson(server.url, { timeoutMs: 2_000 })
    expect(await call('HEAD', '/a')).toEqual({ status: 200, text: '' })
    expect(await call('GET', '/a')).toEqual({ status: 200, text: '{"n":1}' })
    expect(await call('HEAD', '/b')).toEqual({ status: 200, text: '' })
    expect(server.connections).toBe(1)
  })

  it('does not keep a connection whose answer named both content-length and a chunked body', async () => {
    const server = await raw((socket) =>
      socket.write('HTTP/1.1 200 OK\r\ncontent-length: 3\r\ntransfer-encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n'),
    )
    const call = createHttpJson(server.url, { timeoutMs: 2_000 })
    expect(await call('GET', '/a')).toEqual({ status: 200, text: '{}' })
    expect(await call('GET', '/b')).toEqual({ status: 200, text: '{}' })
    expect(server.connections).toBe(2)
  })

  it('fails each call at once when a connection cannot be opened (a bad TLS option), and never uses up its places', async () => {
    const call = createHttpJson('https://127.0.0.1:9', {
      timeoutMs: 5_000,
      maxSockets: 2,
      tls: { ciphers: 'NO-SUCH-CIPHER' },
    })
    const codes = await Promise.all(Array.from({ length: 5 }, () => codeOf(call('GET', '/'))))
    // Each failed on its own TLS error, none by waiting out its timeout for a place.
    expect(codes).toEqual(Array.from({ length: 5 }, () => 'ERR_SSL_NO_CIPHER_MATCH'))
  })

  it('skips 100 Continue, reads a body closed by the server, and honours connection: close', async () => {
    const server = await raw((socket, _request, index) => {
      if (index === 0) socket.write(`HTTP/1.1 100 Continue\r\n\r\n${json('{"n":0}')}`)
      else if (index === 1) socket.end('HTTP/1.0 200 OK\r\n\r\n{"n":1}')
      else socket.write(json('{"n":2}', 'connection: close\r\n'))
    })
    const call = createHttpJson(server.url, { timeoutMs: 5_000 })
    expect(await call('GET', '/')).toEqual({ status: 200, text: '{"n":0}' })
    expect(await call('GET', '/')).toEqual({ status: 200, text: '{"n":1}' })
    expect(server.connections).toBe(1)
    expect(await call('GET', '/')).toEqual({ status: 200, text: '{"n":2}' })
    expect(server.connections).toBe(2)
    expect(await call('GET', '/')).toEqual({ status: 200, text: '{"n":2}' })
    expect(server.connections).toBe(3)
  })

  it('does not reuse a connection that carried more bytes than its answer, or that spoke while idle', async () => {
    const server = await raw((socket, _request, index) => {
      if (index === 0) socket.write(`${json('{}')}garbage`)
      else if (index === 1) {
        socket.write(json('{}'))
        setTimeout(() => socket.write('HTTP/1.1 200 OK\r\n'), 20)
      } else socket.write(json('{"fine":1}'))
    })
    const call = createHttpJson(server.url, { timeoutMs: 5_000 })
    await call('GET', '/')
    await call('GET', '/')
    expect(server.connections).toBe(2)
    await new Promise((resolve) => setTimeout(resolve, 60))
    expect(await call('GET', '/')).toEqual({ status: 200, text: '{"fine":1}' })
    expect(server.connections).toBe(3)
  })

  it('rejects answers that are not HTTP/1.x or are malformed, with EPROTO', async () => {
    const answers = [
      'SSH-2.0-OpenSSH\r\n\r\n',
      'HTTP/1.1 200 OK\r\ncontent-length: 1x\r\n\r\n',
      'HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 3\r\n\r\n{}',
      'HTTP/1.1 200 OK\r\nno colon here\r\n\r\n',
      'HTTP/1.1 200 OK\r\ntransfer-encoding: gzip\r\n\r\n',
      'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n',
      'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n',
      'HTTP/1.1 101 Switching Protocols\r\n\r\n',
      `HTTP/1.1 200 OK\r\nx: ${'y'.repeat(70_000)}`,
    ]
    const server = await raw((socket, _request, index) => socket.write(answers[index] as string))
    const call = createHttpJson(server.url, { timeoutMs: 5_000 })
    for (const _ of answers) expect(await codeOf(call('GET', '/'))).toBe('EPROTO')
    expect(server.connections).toBe(answers.length)
  })

  it('fails with ECONNRESET when the server closes mid-answer, and with the socket error when nothing listens', async () => {
    const server = await raw((socket) => socket.end('HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n{"a"'))
    const call = createHttpJson(server.url, { timeoutMs: 5_000 })
    expect(await codeOf(call('GET', '/'))).toBe('ECONNRESET')
    const port = (server.server.address() as { port: number }).port
    await new Promise((resolve) => server.server.close(resolve))
    servers.splice(servers.indexOf(server.server), 1)
    const gone = createHttpJson(`http://127.0.0.1:${port}`, { timeoutMs: 5_000 })
    expect(await codeOf(gone('GET', '/'))).toBe('ECONNREFUSED')
  })

  it('times out a call with ETIMEDOUT and closes its connection, and times out a call still waiting for one', async () => {
    const server = await raw(() => {})
    const call = createHttpJson(server.url, { timeoutMs: 150, maxSockets: 1 })
    const [first, second] = await Promise.all([codeOf(call('GET', '/slow')), codeOf(call('GET', '/queued'))])
    expect([first, second]).toEqual(['ETIMEDOUT', 'ETIMEDOUT'])
    // The first call's connection was closed; the queued call then got a new one before it timed out.
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(server.sockets.size).toBe(0)
  })

  it('never opens more than maxSockets connections, and serves the calls beyond in turn', async () => {
    const server = await raw((socket) => setTimeout(() => socket.write(json('{}')), 10))
    const call = createHttpJson(server.url, { timeoutMs: 5_000, maxSockets: 2 })
    const answers = await Promise.all(Array.from({ length: 9 }, (_, i) => call('GET', `/${i}`)))
    expect(answers.every((answer) => answer.status === 200)).toBe(true)
    expect(server.connections).toBe(2)
    expect(server.requests).toHaveLength(9)
  })

  it('closes idle connections before the server does, as its keep-alive header announces', async () => {
    const server = await raw((socket) => socket.write(json('{}', 'keep-alive: timeout=1\r\n')))
    const call = createHttpJson(server.url, { timeoutMs: 5_000 })
    await call('GET', '/')
    await call('GET', '/')
    // timeout=1 leaves no margin: each call gets a fresh connection.
    expect(server.connections).toBe(2)
    const plain = await raw((socket) => socket.write(json('{}')))
    const short = createHttpJson(plain.url, { timeoutMs: 5_000, idleMs: 100 })
    await short('GET', '/')
    await new Promise((resolve) => setTimeout(resolve, 700))
    expect(plain.sockets.size).toBe(0)
    await short('GET', '/')
    expect(plain.connections).toBe(2)
  })

  it('recovers when the server closes an idle connection', async () => {
    const server = await raw((socket) => {
      socket.write(json('{}'))
      setTimeout(() => socket.end(), 10)
    })
    const call = createHttpJson(server.url, { timeoutMs: 5_000 })
    await call('GET', '/')
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(await call('GET', '/')).toEqual({ status: 200, text: '{}' })
    expect(server.connections).toBe(2)
  })

  it('refuses headers, methods and paths that would split the request', async () => {
    expect(() =>
      createHttpJson('http://127.0.0.1:1', { timeoutMs: 1, headers: { authorization: 'a\r\nx: y' } }),
    ).toThrow(/does not allow/)
    expect(() => createHttpJson('http://127.0.0.1:1', { timeoutMs: 1, headers: { 'a b': 'c' } })).toThrow(
      /does not allow/,
    )
    expect(() => createHttpJson('ftp://127.0.0.1:1', { timeoutMs: 1 })).toThrow(/http: or https:/)
    const call = createHttpJson('http://127.0.0.1:1', { timeoutMs: 1_000 })
    await expect(call('GET', '/a b')).rejects.toThrow(/not a request HTTP allows/)
    await expect(call('GET /x HTTP/1.1\r\n', '/')).rejects.toThrow(/not a request HTTP allows/)
  })

  it('talks to a real Node server over http and https', async () => {
    const handler = (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => {
      let body = ''
      req.on('data', (chunk) => {
        body += chunk
      })
      req.on('end', () => {
        // Node chunks an answer written in pieces without a length.
        res.writeHead(200, { 'content-type': 'application/json' })
        res.write(`{"method":"${req.method}",`)
        res.end(`"url":"${req.url}","body":${JSON.stringify(body)}}`)
      })
    }
    const httpPort = await listen(createHttpServer(handler))
    const tls = { key: fixture('localhost.key'), cert: fixture('localhost.crt') }
    const httpsPort = await listen(createHttpsServer(tls, handler))
    for (const [url, options] of [
      [`http://127.0.0.1:${httpPort}/f`, {}],
      [`https://localhost:${httpsPort}/f`, { tls: { ca: tls.cert } }],
    ] as const) {
      const call = createHttpJson(url, { timeoutMs: 5_000, ...options })
      for (let i = 0; i < 3; i++)
        expect(JSON.parse((await call('POST', '/settle', `{"i":${i}}`)).text)).toEqual({
          method: 'POST',
          url: '/f/settle',
          body: `{"i":${i}}`,
        })
    }
    // An https facilitator whose certificate is not trusted is refused.
    const untrusted = createHttpJson(`https://localhost:${httpsPort}`, { timeoutMs: 5_000 })
    expect(await codeOf(untrusted('GET', '/'))).toBe('DEPTH_ZERO_SELF_SIGNED_CERT')
  })
})
