import http from 'node:http'
export async function run({ port, path, concurrency, durationMs }) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency })
  const lat = []
  let ok = 0, bad = 0
  const end = performance.now() + durationMs
  const one = () => new Promise((resolve, reject) => {
    const t0 = performance.now()
    const req = http.request({ host: '127.0.0.1', port, path, method: 'GET', agent }, (res) => {
      res.on('data', () => {}); res.on('end', () => { lat.push(performance.now() - t0); res.statusCode === 200 ? ok++ : bad++; resolve() })
    })
    req.on('error', reject); req.end()
  })
  const t = performance.now()
  await Promise.all(Array.from({ length: concurrency }, async () => { while (performance.now() < end) await one() }))
  const el = (performance.now() - t) / 1000
  agent.destroy()
  lat.sort((a, b) => a - b)
  return { rps: ok / el, ok, bad, p50: lat[Math.floor(lat.length * 0.5)], p99: lat[Math.floor(lat.length * 0.99)] }
}
