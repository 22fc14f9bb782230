import { describe, expect, it } from 'vitest'
import { callerIp } from './identity.js'

describe('callerIp', () => {
  it('counts an IPv4 address, and an IPv4-mapped IPv6 one, as that IPv4 address', () => {
    expect(callerIp('203.0.113.7')).toBe('203.0.113.7')
    expect(callerIp('::ffff:203.0.113.7')).toBe('203.0.113.7')
    expect(callerIp('::FFFF:127.0.0.1')).toBe('127.0.0.1')
  })

  it('counts every IPv6 address of one /64 as one caller, and other /64s apart', () => {
    expect(callerIp('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64')
    expect(callerIp('2001:0db8:0001:0002:ffff:ffff:ffff:ffff')).toBe('2001:db8:1:2::/64')
    expect(callerIp('2001:db8:1:3::1')).toBe('2001:db8:1:3::/64')
    expect(callerIp('::1')).toBe('0:0:0:0::/64')
    expect(callerIp('fe80::1%eth0')).toBe('fe80:0:0:0::/64')
  })

  it('leaves an unknown or absent address as it is', () => {
    expect(callerIp(undefined)).toBeUndefined()
    expect(callerIp('not-an-ip')).toBe('not-an-ip')
  })
})
