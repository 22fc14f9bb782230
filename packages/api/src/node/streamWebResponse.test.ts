import { createServer, type Server, type ServerResponse } from 'node:http'
import { type AddressInfo, connect, type Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { sendWebResponse } from './captureResponse.js'

// A server-sent event stream to a caller that does not read, over a real socket: the Node
// adapters' writer reads the next chunk only once the socket drained, so the server holds
// a bounded buffer; when the caller reads again, every byte still arrives in order.
const chunkBytes = 64 * 1024
const chunks = 400 // 25 MiB: far more than the kernel's socket buffers hold
let server: Server | undefined
let client: Socket | undefined
afterEach(async () => {
  client?.destroy()
  await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)))
  server = undefined
})

/** Resolves once `check` holds (bounded: a test never hangs). */
async function until(check: () => boolean, what: string) {
  for (let i = 0; i < 500; i++) {
    if (check()) return
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  throw new Error(`timed out waiting for ${what}`)
}

describe('streamWebResponse: write() backpressure', () => {
  it('a reader that does not read holds the server to a bounded buffer; resumed, it gets every byte', async () => {
    let pulled = 0
    let res: ServerResponse | undefined
    server = createServer((_req, out) => {
      res = out
      const body = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (pulled === chunks) return controller.close()
          controller.enqueue(new Uint8Array(chunkBytes).fill(97 + (pulled % 26)))
          pulled += 1
        },
      })
      void sendWebResponse(out, new Response(body, { headers: { 'content-type': 'text/event-stream' } }))
    })
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve))
    const { port } = server.address() as AddressInfo
    const socket = connect(port, '127.0.0.1')
    client = socket
    socket.write('GET /live HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n')
    socket.pause()
    // Until the writer waits for the socket, or (a writer that does not wait) has read it all.
    await until(() => res?.writableNeedDrain === true || pulled === chunks, 'the socket to fill')
    // Give a writer that ignores `false` every chance to run ahead.
    for (let i = 0; i < 20; i++) await new Promise((resolve) => setTimeout(resolve, 10))
    const served = res as ServerResponse
    // What Node holds for this answer (its own buffer and its socket's).
    const held = served.writableLength
    expect(held).toBeLessThan(4 * chunkBytes)
    expect(pulled).toBeLessThan(chunks)

    // The caller reads again: the rest is pulled, and all of it arrives.
    let received = 0
    let text = ''
    socket.on('data', (data: Buffer) => {
      received += data.length
      if (text.length < 1024) text += data.toString('latin1')
    })
    const ended = new Promise((resolve) => socket.on('end', resolve))
    socket.resume()
    await ended
    expect(pulled).toBe(chunks)
    expect(text).toMatch(/^HTTP\/1\.1 200/)
    const headerEnd = text.indexOf('\r\n\r\n') + 4
    // Chunked framing adds a few bytes per chunk: the body itself is every chunk, whole.
    expect(received - headerEnd).toBeGreaterThanOrEqual(chunks * chunkBytes)
  })
})
