import { createServer, type IncomingMessage, type Server } from 'node:http'

const readBody = async (req: IncomingMessage) => {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

/** A fetch-style handler served over Node `http`, as Bun or Deno would (a minimal bridge). */
export function fetchServer(handler: (request: Request) => Response | Promise<Response>): Server {
  return createServer(async (req, res) => {
    const body = req.method === 'GET' || req.method === 'HEAD' ? undefined : await readBody(req)
    const headers = new Headers()
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers.set(k, v)
    const response = await handler(
      new Request(new URL(req.url ?? '/', `http://${req.headers.host}`), {
        method: req.method ?? 'GET',
        headers,
        ...(body ? { body } : {}),
      }),
    )
    res.writeHead(response.status, Object.fromEntries(response.headers))
    res.end(req.method === 'HEAD' ? undefined : Buffer.from(await response.arrayBuffer()))
  })
}
