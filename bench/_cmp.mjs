import { fork } from 'node:child_process'
import { createRequire } from 'node:module'
import { run } from './_gen.mjs'
const require = createRequire('/tmp/benchproto/')
const autocannon = require('autocannon')
const child = fork(new URL('./_srv.mjs', import.meta.url))
const { port } = await new Promise((r) => child.once('message', r))
try {
  for (const c of [1, 8, 32]) {
    await run({ port, path: '/free', concurrency: c, durationMs: 1000 })
    console.log('agent', c, await run({ port, path: '/free', concurrency: c, durationMs: 4000 }))
    const r = await autocannon({ url: `http://127.0.0.1:${port}/free`, connections: c, duration: 4 })
    console.log('autocannon', c, r.requests.average, r.latency.p50, r.latency.p99, r.non2xx, r.errors)
  }
} finally { child.kill() }
