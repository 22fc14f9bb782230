import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

const src = (pkg: string) => fileURLToPath(new URL(`./packages/${pkg}/src/index.ts`, import.meta.url))

export default defineConfig({
  resolve: {
    alias: {
      '@402x/core': src('core'),
      '@402x/devchain': src('devchain'),
      '@402x/facilitator/client': fileURLToPath(new URL('./packages/facilitator/src/client.ts', import.meta.url)),
      '@402x/facilitator': src('facilitator'),
      '402x-api/node': fileURLToPath(new URL('./packages/api/src/node.ts', import.meta.url)),
      '402x-api/fetch': fileURLToPath(new URL('./packages/api/src/fetch.ts', import.meta.url)),
      '402x-api/hono': fileURLToPath(new URL('./packages/api/src/hono.ts', import.meta.url)),
      '402x-api/fastify': fileURLToPath(new URL('./packages/api/src/fastify.ts', import.meta.url)),
      '402x-api/next': fileURLToPath(new URL('./packages/api/src/next.ts', import.meta.url)),
      '402x-api/gateway': fileURLToPath(new URL('./packages/api/src/gateway.ts', import.meta.url)),
      '402x-api/proxy': fileURLToPath(new URL('./packages/api/src/proxy.ts', import.meta.url)),
      '402x-api/webhooks': fileURLToPath(new URL('./packages/api/src/webhooks.ts', import.meta.url)),
      '402x-api': src('api'),
      '402x-client': src('client'),
    },
  },
  test: {
    include: ['packages/*/src/**/*.test.ts', 'test/**/*.test.ts'],
    // 2 cores: each chain test starts its own anvil, so keep workers few.
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
})
