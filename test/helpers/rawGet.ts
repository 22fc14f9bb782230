import { connect } from 'node:net'

/** Sends `GET target` with this Host, byte for byte (fetch would normalise the path). */
export function rawGet(base: string, target: string, host?: string): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(base)
  const head = `GET ${target} HTTP/1.1\r\n${host === undefined ? `Host: ${hostname}:${port}` : `Host: ${host}`}\r\nConnection: close\r\n\r\n`
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.write(head))
    let out = ''
    socket.setTimeout(10_000, () => socket.destroy(new Error(`no answer to ${target} within 10 s`)))
    socket.on('data', (chunk: Buffer) => {
      out += chunk.toString('latin1')
    })
    const done = () => {
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(out)?.[1] ?? 0)
      resolve({ status, body: out.slice(out.indexOf('\r\n\r\n') + 4) })
    }
    socket.on('end', done)
    socket.on('close', done)
    socket.on('error', reject)
  })
}
