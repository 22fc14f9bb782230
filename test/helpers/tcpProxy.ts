import { connect, createServer, type Server, type Socket } from 'node:net'

export type TcpProxy = {
  port: number
  /** Cuts every connection and refuses new ones: the service seems down. */
  cut(): Promise<void>
  /** Listens again on the same port: the service is back. */
  restore(): Promise<void>
  /**
   * Stops forwarding, in both directions, without closing anything: connections stall as
   * over a network that drops packets (nothing tells either side).
   */
  freeze(): void
  /** Forwards again what stalled. */
  thaw(): void
  close(): Promise<void>
}

/**
 * A TCP proxy in front of a real service (PostgreSQL, Redis) on 127.0.0.1, to stage an
 * outage of a service the whole machine shares without stopping it: `cut()` resets every
 * connection through the proxy and closes its port, `restore()` opens it again.
 *
 * @example
 * const proxy = await startTcpProxy(5432)
 * const url = `postgres://127.0.0.1:${proxy.port}/test`
 * await proxy.cut() // … the app sees PostgreSQL down
 * await proxy.restore()
 */
export async function startTcpProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
  const sockets = new Set<Socket>()
  let frozen = false
  let server: Server | undefined
  let port = 0
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      const s = createServer((client) => {
        const upstream = connect(targetPort, targetHost)
        sockets.add(client).add(upstream)
        const drop = () => {
          client.destroy()
          upstream.destroy()
          sockets.delete(client)
          sockets.delete(upstream)
        }
        client.on('error', drop).on('close', drop)
        upstream.on('error', drop).on('close', drop)
        client.pipe(upstream)
        upstream.pipe(client)
        if (frozen) {
          client.pause()
          upstream.pause()
        }
      })
      s.once('error', reject)
      s.listen(port, '127.0.0.1', () => {
        port = (s.address() as { port: number }).port
        server = s
        resolve()
      })
    })
  const cut = async () => {
    const s = server
    server = undefined
    for (const socket of sockets) socket.resetAndDestroy()
    sockets.clear()
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()))
  }
  await listen()
  return {
    get port() {
      return port
    },
    cut,
    restore: listen,
    freeze() {
      frozen = true
      for (const socket of sockets) socket.pause()
    },
    thaw() {
      frozen = false
      for (const socket of sockets) socket.resume()
    },
    close: cut,
  }
}
