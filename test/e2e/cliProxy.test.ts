import { spawnSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { decodeHeader, PaymentRequiredSchema } from '@402x/core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cleanEnv, devFolder } from '../examples/startExample.js'
import { cliBin } from '../helpers/devProcess.js'
import { close, listen, type Stack, startStack } from '../helpers/stack.js'
import { type Child, startChild } from '../python/children.js'

// `402x proxy` as a user runs it: a file, its reload, and the command-line routes.

let stack: Stack
let upstream: Server
let upstreamUrl: string
let dir: string
let env: NodeJS.ProcessEnv
const children: Child[] = []

const amountOf = async (url: string) => {
  const res = await fetch(url)
  if (res.status !== 402) return res.status
  const decoded = decodeHeader(res.headers.get('payment-required') ?? '', PaymentRequiredSchema)
  return decoded.ok ? decoded.value.accepts[0]?.amount : 'no challenge'
}

async function startProxy(args: string[]) {
  const child = await startChild(process.execPath, [cliBin, 'proxy', ...args, '--port', '0', '--json'], {
    env,
    cwd: dir,
    ready: /^\{/,
    name: '402x proxy',
  })
  children.push(child)
  return { child, url: (JSON.parse(child.ready) as { url: string }).url }
}

beforeAll(async () => {
  stack = await startStack()
  upstream = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ path: req.url }))
  })
  upstreamUrl = await listen(upstream)
  // The settings a file leaves out come from a running `402x dev`: this stack, written as one.
  dir = devFolder(stack)
  env = { ...cleanEnv(), X402_STATE_DIR: join(dir, '.402x') }
}, 120_000)
afterAll(async () => {
  for (const child of children) await child.stop()
  await close(upstream)
  await stack?.stop()
})

describe('402x proxy', () => {
  it('serves a file, prints its URL as JSON, and reloads the file when it changes; a bad file keeps the running one', async () => {
    const file = join(dir, '402x.yaml')
    writeFileSync(file, `upstream: ${upstreamUrl}\nroutes:\n  'GET /api/data': 0.01\n`)
    const { child, url } = await startProxy(['--config', file])
    expect(await amountOf(`${url}/api/data`)).toBe('10000')
    expect(await (await fetch(`${url}/free`)).json()).toEqual({ path: '/free' })

    writeFileSync(file, `upstream: ${upstreamUrl}\nroutes:\n  'GET /api/data': 0.02\n`)
    for (let i = 0; i < 50 && (await amountOf(`${url}/api/data`)) !== '20000'; i++) await sleep(100)
    expect(await amountOf(`${url}/api/data`)).toBe('20000')

    writeFileSync(file, `upstream: ${upstreamUrl}\nroutes:\n  'GET /api/data': { price: 0.03, colour: red }\n`)
    for (let i = 0; i < 50 && !child.output().includes('not reloaded'); i++) await sleep(100)
    expect(child.output()).toMatch(/402x\.yaml not reloaded, the running config stays: .*402x\.yaml:3: .*"colour"/)
    expect(await amountOf(`${url}/api/data`)).toBe('20000')
  })

  it('takes the upstream and routes on the command line', async () => {
    const { url } = await startProxy(['--upstream', upstreamUrl, '--route', 'GET /api/x=0.005', '--free', 'GET /ok'])
    expect(await amountOf(`${url}/api/x`)).toBe('5000')
    expect(await amountOf(`${url}/ok`)).toBe(200)
  })

  it('stops at start with the line of a mistake', () => {
    const file = join(dir, 'bad.yaml')
    writeFileSync(file, `upstream: ${upstreamUrl}\nroutes:\n  'GET /a': {}\n`)
    const run = spawnSync(process.execPath, [cliBin, 'proxy', '--config', file, '--port', '0'], {
      env,
      cwd: dir,
      encoding: 'utf8',
      timeout: 20_000,
    })
    expect(run.status).not.toBe(0)
    expect(run.stderr).toMatch(/bad\.yaml:3: routes\."GET \/a": give its price/)
  })
})
