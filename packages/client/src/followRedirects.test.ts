import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { followRedirects } from './followRedirects.js'

// Echoes what arrived; `/to/<status>?next=<path>` redirects with that status.
const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://x')
  const status = /^\/to\/(\d+)$/.exec(url.pathname)?.[1]
  if (status) {
    res.writeHead(Number(status), { location: url.searchParams.get('next') ?? '/' }).end()
    return
  }
  let body = ''
  req.on('data', (chunk) => {
    body += chunk
  })
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ method: req.method, path: url.pathname, body, authorization: req.headers.authorization }))
  })
})
let origin = ''
beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterAll(async () => {
  server.closeAllConnections()
  await new Promise<void>((resolve) => server.close(() => resolve()))
})

const post = (url: string, redirect: 'follow' | 'manual' | 'error' = 'follow') =>
  followRedirects(fetch, url, {
    method: 'POST',
    headers: new Headers({ 'content-type': 'text/plain' }),
    body: new TextEncoder().encode('hello').buffer as ArrayBuffer,
    redirect,
    authorization: (hop) => (new URL(hop).pathname === '/end' ? 'Bearer for-end' : undefined),
  })

describe('followRedirects', () => {
  it('changes a POST to a GET on 303 and keeps it on 307, with each hop’s own credential', async () => {
    expect(await (await post(`${origin}/to/303?next=/end`)).json()).toEqual({
      method: 'GET',
      path: '/end',
      body: '',
      authorization: 'Bearer for-end',
    })
    expect(await (await post(`${origin}/to/307?next=/to/308?next=/end`)).json()).toMatchObject({
      method: 'POST',
      body: 'hello',
    })
  })

  it('returns the redirect itself in manual mode, and throws in error mode', async () => {
    const response = await post(`${origin}/to/302?next=/end`, 'manual')
    expect(response.status).toBe(302)
    await expect(post(`${origin}/to/302?next=/end`, 'error')).rejects.toThrow('redirect')
  })
})
