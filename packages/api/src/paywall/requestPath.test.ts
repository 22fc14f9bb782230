import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ambiguousPath, invalidPath, matchRequest } from './matchRequest.js'
import { ambiguous, readPath, someReading } from './requestPath.js'
import type { ResolvedRoute } from './resolvePaywall.js'
import { compileRoute } from './routes.js'

const route = (source: string) => ({ pattern: compileRoute(source) }) as ResolvedRoute
const table = { routes: [route('GET /premium/*'), route('GET /report/:id'), route('GET /paid')], guardsAll: false }
const docs = { path: '/openapi.json', route: { description: 'docs' } as ResolvedRoute, methods: ['GET', 'HEAD'] }
const match = (target: string, method = 'GET') => matchRequest(table, [docs], method, target)

describe('readPath', () => {
  it('gives a plain path itself, without copying it', () => {
    const path = '/api/market/btc-usd'
    expect(readPath(path)).toBe(path)
    expect(readPath('/paid?x=1#y')).toBe('/paid')
    expect(readPath('/.well-known/x402')).toBe('/.well-known/x402')
    expect(readPath('/a/..b/.c')).toBe('/a/..b/.c')
  })

  it('decodes safe escapes and drops a trailing slash: one reading', () => {
    expect(readPath('/%70aid')).toBe('/paid')
    expect(readPath('/paid/')).toBe('/paid')
    expect(readPath('/caf%C3%A9')).toBe('/café')
    expect(readPath('http://host/paid?q')).toBe('/paid')
  })

  it.each([
    '/report/q3%2F..',
    '/report/%2e%2e',
    '/report/..%2Fq3',
    '/premium/..%2Ffree',
    '/premium/%2e%2e%2Ffree',
    '/premium/x/..%2F..%2Fx',
    '/a%5Cb',
    '/a\\b',
    '/paid;x=y',
    '/a%3Bb',
    '/a%252Fb',
    '//paid',
    '/free/../paid',
    '/./paid',
  ])('calls %s ambiguous', (target) => {
    expect(readPath(target)).toBe(ambiguous)
  })

  it.each(['%C0%AE', 'paid', '*', '/%E0%A4%A', '/%70remium/%%2F61/b', '/premium%2F%C0', '/a%zz%2F'])(
    'refuses %s',
    (target) => {
      expect(readPath(target)).toBeUndefined()
    },
  )
})

describe('someReading', () => {
  const readings = (path: string) => {
    const out: string[] = []
    someReading(path, (p) => {
      out.push(p)
      return false
    })
    return out
  }
  it('reads a path as every framework could route it', () => {
    expect(readings('/premium/..%2Ffree')).toEqual(
      expect.arrayContaining(['/premium/..%2Ffree', '/premium/../free', '/free']),
    )
    expect(readings('/paid;x=y/z')).toEqual(expect.arrayContaining(['/paid;x=y/z', '/paid/z', '/paid']))
    expect(readings('/a%252Fb')).toEqual(expect.arrayContaining(['/a%252Fb', '/a%2Fb', '/a/b']))
    expect(readings('/x\\..\\paid')).toEqual(expect.arrayContaining(['/paid']))
  })
})

describe('matchRequest', () => {
  it('prices plain spellings and leaves free ones free', () => {
    expect(match('/premium/x')).toBe(table.routes[0])
    expect(match('/REPORT/q3')).toBe(table.routes[1])
    expect(match('/free')).toBeUndefined()
    expect(match('/free/a%2Fb')).toBeUndefined()
  })

  it.each([
    '/report/q3%2F..',
    '/report/%2e%2e',
    '/report/..%2Fq3',
    '/premium/..%2Ffree',
    '/premium/%2e%2e%2Ffree',
    '/premium/x/..%2F..%2Fx',
    '/free/..%2Fpaid',
    '/free/../premium/x',
    '/paid;x=y',
    '//paid',
    '/x/%2e%2e/paid',
  ])('refuses %s with ambiguous_path (issue 15, case 2)', (target) => {
    expect(match(target)).toBe(ambiguousPath)
    expect(ambiguousPath.refusal?.reason).toBe('ambiguous_path')
  })

  it('refuses what is not a path', () => {
    expect(match('/%C0%AE')).toBe(invalidPath)
  })

  it('answers a special path only by its exact spelling (issue 15, case 3)', () => {
    expect(match('/openapi.json')).toBe(docs.route)
    expect(match('/openapi.json?x')).toBe(docs.route)
    expect(match('/openapi.json', 'POST')).toBeUndefined()
    const perRoute = { routes: [route('/*')], guardsAll: true }
    for (const target of ['/api/weather/..%2F..%2Fopenapi.json', '/%6fpenapi.json', '/openapi.json/', '//openapi.json'])
      expect(matchRequest(perRoute, [docs], 'GET', target)).toBe(perRoute.routes[0])
  })

  it('never calls a generated spelling of a priced path free', () => {
    const priced = ['/premium/a', '/report/q3', '/paid']
    const piece = fc.constantFrom('%2F', '%2f', '%5C', '\\', '%2e', '%2E', '/./', '/../', ';x=y', '%252F', '//', '/')
    fc.assert(
      fc.property(fc.constantFrom(...priced), fc.array(piece, { maxLength: 4 }), fc.nat(), (path, pieces, at) => {
        for (const p of pieces) {
          const i = 1 + (at % path.length)
          const spelled = path.slice(0, i) + p + path.slice(i)
          const result = match(spelled)
          // Either priced, refused, or a reading that is itself free under every framework.
          if (result === undefined) {
            someReading(spelled, (r) => {
              expect(table.routes.some((t) => t.pattern?.regex.test(r))).toBe(false)
              return false
            })
          }
        }
      }),
      { seed: 15, numRuns: 300 },
    )
  })
})
