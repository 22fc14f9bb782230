import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createX402Client } from '402x-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cliBin } from '../helpers/devProcess.js'
import { type Stack, startStack } from '../helpers/stack.js'
import { type Child, startChild } from '../python/children.js'
import { cleanEnv, devFolder, examplesDir } from './startExample.js'

// examples/llm-proxy as its README runs it: the model server, then `402x proxy --config` on
// its 402x.yaml (the upstream's port moved to a free one), in a folder where `402x dev` runs.
let stack: Stack
const children: Child[] = []
let proxyUrl: string

beforeAll(async () => {
  stack = await startStack()
  const cwd = devFolder(stack)
  const env = { ...cleanEnv(), X402_STATE_DIR: join(cwd, '.402x') }
  const model = await startChild(process.execPath, [join(examplesDir, 'llm-proxy', 'upstream.js')], {
    env: { ...env, PORT: '0' },
    ready: /^model server http/,
    name: 'upstream.js',
  })
  children.push(model)
  const modelUrl = model.ready.split(' ').at(-1) as string
  const yaml = readFileSync(join(examplesDir, 'llm-proxy', '402x.yaml'), 'utf8')
  expect(yaml).toContain('upstream: http://127.0.0.1:8000')
  const file = join(cwd, '402x.yaml')
  writeFileSync(file, yaml.replace('http://127.0.0.1:8000', modelUrl))
  const proxy = await startChild(process.execPath, [cliBin, 'proxy', '--config', file, '--port', '0', '--json'], {
    env,
    cwd,
    ready: /^\{/,
    name: '402x proxy',
  })
  children.push(proxy)
  proxyUrl = (JSON.parse(proxy.ready) as { url: string }).url
}, 120_000)
afterAll(async () => {
  for (const child of children) await child.stop()
  await stack?.stop()
})

describe('examples/llm-proxy', () => {
  it('sells completions per output token from credit: one payment on chain, then calls drawn by their tokens', async () => {
    const buyer = stack.chain.buyers[1]!
    const client = createX402Client({
      wallet: buyer.privateKey,
      allowedAssets: [{ network: stack.chain.network, asset: stack.chain.usdc }],
      budget: { maxPerRequest: 0.05 },
      credits: { topUp: 0.05 },
    })
    const before = await stack.chain.balanceOf(buyer.address)
    const first = await client.post(`${proxyUrl}/v1/chat/completions`, { messages: [{ role: 'user', content: 'hi' }] })
    expect(first.data).toMatchObject({ usage: { completion_tokens: 9 } })
    expect(await stack.chain.balanceOf(buyer.address)).toBe(before - 50_000n)
    // The model server was told who paid: the credit account.
    expect((first.data as { consumer: string }).consumer).toMatch(/^acct_/)
    const second = await client.post(`${proxyUrl}/v1/chat/completions`, { messages: [] })
    expect(second.status).toBe(200)
    // The credit left ($0.04982) is below the next call's $0.05 reserve: the client tops up
    // once more in the background. Whatever it bought, the books balance to the atomic unit:
    // bought on chain = credit left + 2 × 9 tokens × $0.00002.
    const origin = new URL(proxyUrl).origin
    let spent = 0n
    for (let i = 0; i < 50; i++) {
      spent = before - (await stack.chain.balanceOf(buyer.address))
      const left = client.credits[origin]?.balance
      if (left !== undefined && BigInt(Math.round(Number(left) * 1e6)) === spent - 360n) break
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    expect(spent % 50_000n).toBe(0n)
    expect(BigInt(Math.round(Number(client.credits[origin]?.balance) * 1e6))).toBe(spent - 360n)
  })
})
