import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'

/** One POST a test receiver got. */
export type Received = { headers: Record<string, string>; body: string; answered: number }

/**
 * A real HTTP receiver for the webhook tests: `down()` stops listening (connections are
 * refused), `up(status)` listens again on the same port and answers `status`.
 */
export async function startReceiver() {
  const received: Received[] = []
  let status = 204
  let server: Server | undefined
  const listen = (port: number) =>
    new Promise<Server>((resolve, reject) => {
      const s = createServer((req, res) => {
        let body = ''
        req.setEncoding('utf8')
        req.on('data', (chunk: string) => {
          body += chunk
        })
        req.on('end', () => {
          const headers = Object.fromEntries(
            Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : (v ?? '')]),
          )
          received.push({ headers, body, answered: status })
          res.statusCode = status
          res.end(status >= 400 ? 'receiver is failing' : '')
        })
      })
      s.once('error', reject)
      s.listen(port, '127.0.0.1', () => resolve(s))
    })
  server = await listen(0)
  const port = (server.address() as AddressInfo).port
  const close = () =>
    new Promise<void>((resolve) => {
      const s = server
      server = undefined
      if (!s) return resolve()
      s.closeAllConnections()
      s.close(() => resolve())
    })
  return {
    url: `http://127.0.0.1:${port}/hooks`,
    received,
    async down() {
      await close()
    },
    async up(answer = 204) {
      status = answer
      if (!server) server = await listen(port)
    },
    answer(next: number) {
      status = next
    },
    close,
  }
}

/** Waits until `check` is true, polling; fails after `ms` with `what`. */
export async function until(check: () => boolean | Promise<boolean>, what: string, ms = 20_000): Promise<void> {
  const end = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 25))
  }
}
