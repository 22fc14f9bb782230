import { describe, expect, it } from 'vitest'
import { checkPublicUrl } from './publicUrl.js'

describe('checkPublicUrl', () => {
  it.each([
    ['https://api.example.com', 'https://api.example.com'],
    ['https://api.example.com/', 'https://api.example.com'],
    ['http://127.0.0.1:4021', 'http://127.0.0.1:4021'],
    ['https://example.com/v1/', 'https://example.com/v1'],
    ['HTTPS://API.Example.com/base', 'https://api.example.com/base'],
  ])('takes %s as %s', (value, expected) => {
    expect(checkPublicUrl(value, 'X402_PUBLIC_URL')).toBe(expected)
  })

  it.each([
    'api.example.com',
    '/base',
    'ftp://example.com',
    'https://user:pw@example.com',
    'https://example.com/?x=1',
    'https://example.com/#top',
    'https://example.com/a/../b',
    'https://example.com/a%2Fb',
    'https://example.com//a',
  ])('refuses %s, naming the setting and what to give', (value) => {
    expect(() => checkPublicUrl(value, 'X402_PUBLIC_URL')).toThrow(
      /publicUrl ".*" \(from X402_PUBLIC_URL\).*: give the URL callers use/,
    )
  })
})
