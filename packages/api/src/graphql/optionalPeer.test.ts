import { readdirSync, readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'

// 402x-api's root entry point exports x402GraphQL and must load where graphql is not
// installed: no module here imports graphql's runtime (types only; loadGraphQL requires it
// on the first refusal).
describe('graphql stays an optional peer', () => {
  it('is imported for its types only', () => {
    const dir = new URL('.', import.meta.url)
    const sources = readdirSync(dir).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
    expect(sources.length).toBeGreaterThan(5)
    for (const file of sources) {
      const text = readFileSync(new URL(file, dir), 'utf8')
      const valueImports = text.match(/^import (?!type )[^']*?from '(graphql|@apollo\/server|graphql-yoga)[^']*'/gm)
      expect(valueImports, file).toBeNull()
    }
  })
})
