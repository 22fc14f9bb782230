import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

// `402x-api`'s root entry exports paidTool, and must load where @modelcontextprotocol/sdk is
// not installed (an optional peer): its MCP code may import the SDK's types only.
const folder = join(import.meta.dirname, '../../packages/api/src/mcp')

describe('the MCP SDK is an optional peer of 402x-api', () => {
  it('packages/api/src/mcp imports nothing of the SDK at run time', () => {
    const files = readdirSync(folder).filter((f) => f.endsWith('.ts'))
    expect(files).toContain('paidTool.ts')
    let seen = 0
    for (const file of files) {
      const text = readFileSync(join(folder, file), 'utf8')
      const imports = [...text.matchAll(/^import\s+(type\s+)?[^'"]*?from\s+'(@modelcontextprotocol\/[^']+)'/gm)]
      for (const [, typeOnly, source] of imports) expect(typeOnly, `${file} imports ${source}`).toBe('type ')
      seen += imports.length
      expect(text).not.toMatch(/import\(\s*'@modelcontextprotocol/)
    }
    // The SDK's types are read (the check above saw them).
    expect(seen).toBeGreaterThan(0)
  })

  it('declares it in peerDependenciesMeta as optional', () => {
    const pkg = JSON.parse(readFileSync(join(folder, '../../package.json'), 'utf8'))
    expect(pkg.peerDependencies['@modelcontextprotocol/sdk']).toBeTruthy()
    expect(pkg.peerDependenciesMeta['@modelcontextprotocol/sdk']).toEqual({ optional: true })
  })
})
