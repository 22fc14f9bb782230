import { describe, expect, it } from 'vitest'
import { createBudgetTracker } from './budget.js'
import { matchHost } from './matchHost.js'

describe('allowedHosts entries', () => {
  it('a bare host allows every port of it', () => {
    expect(matchHost('127.0.0.1:40655', '127.0.0.1')).toBe(true)
    expect(matchHost('127.0.0.1', '127.0.0.1')).toBe(true)
    expect(matchHost('API.example.com:8443', 'api.example.com')).toBe(true)
    expect(matchHost('[::1]:4021', '[::1]')).toBe(true)
  })

  it('a host with a port allows only that port', () => {
    expect(matchHost('127.0.0.1:4021', '127.0.0.1:4021')).toBe(true)
    expect(matchHost('127.0.0.1:40655', '127.0.0.1:4021')).toBe(false)
    expect(matchHost('127.0.0.1', '127.0.0.1:4021')).toBe(false)
  })

  it('*.example.com allows subdomains on every port, not the apex nor look-alikes', () => {
    expect(matchHost('api.example.com:8080', '*.example.com')).toBe(true)
    expect(matchHost('example.com', '*.example.com')).toBe(false)
    expect(matchHost('evilexample.com', '*.example.com')).toBe(false)
    expect(matchHost('127.0.0.2:4021', '127.0.0.1')).toBe(false)
  })

  it('the budget accepts 127.0.0.1 for a dev server on a free port', () => {
    const tracker = createBudgetTracker({ allowedHosts: ['127.0.0.1'] })
    expect(() => tracker.hold(1000n, '127.0.0.1:40655', '0x0', Date.now() + 1000)).not.toThrow()
    expect(() => tracker.hold(1000n, 'example.org:40655', '0x0', Date.now() + 1000)).toThrow(/not in allowedHosts/)
  })
})
