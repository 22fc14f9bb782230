import { describe, expect, it } from 'vitest'
import { compileRoute, matchRoute, normalizePath } from './routes.js'

describe('normalizePath', () => {
  it.each([
    ['/api/premium', '/api/premium'],
    ['/api/premium?x=1', '/api/premium'],
    ['/api/premium#x', '/api/premium'],
    ['/api/premium#/../x', '/api/premium'],
    ['http://a/api/premium#x', '/api/premium'],
    ['/api/premium/', '/api/premium'],
    ['//api/premium', '/api/premium'],
    ['/api/%2e%2e/api/premium', '/api/premium'],
    ['/api/../api/./premium', '/api/premium'],
    ['/api/%70remium', '/api/premium'],
    ['/api\\premium', '/api/premium'],
    ['/', '/'],
    ['/.', '/'],
    // Absolute-form targets are routed by their path, as Express and Fastify route them.
    ['http://a/api/premium', '/api/premium'],
    ['HTTP://evil.example:80//api/%70remium?x', '/api/premium'],
    ['http://a', '/'],
  ])('%s → %s', (raw, path) => {
    expect(normalizePath(raw)).toBe(path)
  })

  it('refuses what cannot be decoded', () => {
    expect(normalizePath('/api/%E0%A4%A')).toBeUndefined()
    expect(normalizePath('api/premium')).toBeUndefined()
    expect(normalizePath('*')).toBeUndefined()
  })
})

describe('route patterns', () => {
  const priced = compileRoute('GET /api/premium')
  it.each([
    ['GET', '/api/premium', true],
    ['HEAD', '/api/premium', true],
    ['GET', '/API/Premium', true],
    ['POST', '/api/premium', false],
    ['GET', '/api/premium2', false],
  ])('%s %s matches: %s', (method, path, expected) => {
    expect(matchRoute(priced, method, normalizePath(path) as string)).toBe(expected)
  })

  it('matches params and wildcards', () => {
    expect(matchRoute(compileRoute('/api/market/:symbol'), 'POST', '/api/market/ETH')).toBe(true)
    expect(matchRoute(compileRoute('/api/market/:symbol'), 'GET', '/api/market/ETH/x')).toBe(false)
    expect(matchRoute(compileRoute('/api/*'), 'GET', '/api')).toBe(true)
    expect(matchRoute(compileRoute('/api/*'), 'GET', '/api/a/b')).toBe(true)
    expect(matchRoute(compileRoute('/api/*'), 'GET', '/apix')).toBe(false)
  })
})
