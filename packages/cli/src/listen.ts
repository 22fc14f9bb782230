import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'

/** Listens on `port`, or on a free port when it is taken. Returns the port in use. */
export async function listenWithFallback(server: Server, port: number, host = '127.0.0.1'): Promise<number> {
  const attempt = (p: number) =>
    new Promise<number>((resolve, reject) => {
      const onError = (error: NodeJS.ErrnoException) => {
        server.removeListener('listening', onListening)
        reject(error)
      }
      const onListening = () => {
        server.removeListener('error', onError)
        resolve((server.address() as AddressInfo).port)
      }
      server.once('error', onError)
      server.once('listening', onListening)
      server.listen(p, host)
    })
  try {
    return await attempt(port)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE' || port === 0) throw error
    return attempt(0)
  }
}

/** Closes a server, cutting idle keep-alive connections. */
export function closeServer(server: Server): Promise<void> {
  if (!server.listening) return Promise.resolve()
  server.closeAllConnections()
  return new Promise((resolve) => server.close(() => resolve()))
}
