// A JSON-RPC forwarder in front of anvil that adds a round trip's latency to every call, as a
// hosted node of a real chain has (tens of ms away, not anvil's 1 ms on loopback). Requests
// and answers pass through unchanged: half the delay on the way in, half on the way out.
import http from 'node:http'

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/** Starts the forwarder to `target` with `latencyMs` per call; resolves `{ url, calls, close() }`. */
export async function startSlowRpc(target, latencyMs) {
  let calls = 0
  const server = http.createServer(async (req, res) => {
    calls++
    try {
      const chunks = []
      for await (const chunk of req) chunks.push(chunk)
      await sleep(latencyMs / 2)
      const answer = await fetch(target, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: Buffer.concat(chunks),
      })
      const body = Buffer.from(await answer.arrayBuffer())
      await sleep(latencyMs / 2)
      res.writeHead(answer.status, { 'content-type': 'application/json', 'content-length': body.length })
      res.end(body)
    } catch (error) {
      res.writeHead(502, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32603, message: String(error) } }))
    }
  })
  server.keepAliveTimeout = 60_000
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address()
  return {
    url: `http://127.0.0.1:${port}`,
    get calls() {
      return calls
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
