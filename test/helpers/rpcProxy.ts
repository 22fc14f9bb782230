import { createServer, request, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'

/**
 * A pass-through proxy in front of a real chain RPC that a test can take down and bring
 * back on the same port: "the chain goes down halfway".
 */
export async function startRpcProxy(target: string) {
  const upstream = new URL(target)
  let server: Server
  let port = 0
  const start = async () => {
    server = createServer((req, res) => {
      const forward = request(
        { host: upstream.hostname, port: upstream.port, path: '/', method: req.method, headers: req.headers },
        (up) => {
          res.writeHead(up.statusCode ?? 502, up.headers)
          up.pipe(res)
        },
      )
      forward.on('error', () => res.destroy())
      req.pipe(forward)
    })
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
    port = (server.address() as AddressInfo).port
  }
  await start()
  return {
    url: `http://127.0.0.1:${port}`,
    /** New connections are refused until `up()`. */
    async down() {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
    up: start,
    async stop() {
      if (server.listening) await this.down()
    },
  }
}
