import { describe, expect, it } from 'vitest'
import { callerIp } from './callerIp.js'

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

  it('counts one caller once however a proxy wrote its address: a port, brackets, leading zeros', () => {
    expect(callerIp('203.0.113.7:51234')).toBe('203.0.113.7')
    expect(callerIp('203.0.113.7:51235')).toBe('203.0.113.7')
    expect(callerIp('01.2.3.004')).toBe('1.2.3.4')
    expect(callerIp(' 1.2.3.4 ')).toBe('1.2.3.4')
    expect(callerIp('[2001:db8::1]')).toBe('2001:db8:0:0::/64')
    expect(callerIp('[2001:db8::2]:443')).toBe('2001:db8:0:0::/64')
    expect(callerIp('[::ffff:203.0.113.7]:80')).toBe('203.0.113.7')
    // Not an IPv4 address: left as it is.
    expect(callerIp('1.2.3.256')).toBe('1.2.3.256')
  })

  it('leaves an unknown or absent address as it is', () => {
    expect(callerIp(undefined)).toBeUndefined()
    expect(callerIp('not-an-ip')).toBe('not-an-ip')
  })
})

describe('callerIp with another subnet', () => {
  it('groups by the prefix length given, and counts each address alone with false', () => {
    expect(callerIp('2001:db8:1:2:aaaa::1', 48)).toBe('2001:db8:1::/48')
    expect(callerIp('2001:db8:1:2:aaaa::1', 56)).toBe('2001:db8:1:0::/56')
    expect(callerIp('2001:db8:1:2ff:aaaa::1', 56)).toBe('2001:db8:1:200::/56')
    expect(callerIp('2001:db8:1:2:aaaa::1', false)).toBe('2001:db8:1:2:aaaa:0:0:1')
    expect(callerIp('2001:db8:1:2:aaaa::1', 128)).toBe('2001:db8:1:2:aaaa:0:0:1')
  })

  it('counts the hex form of an IPv4-mapped address as the IPv4 address too', () => {
    expect(callerIp('::ffff:cb00:7107')).toBe('203.0.113.7')
    expect(callerIp('0:0:0:0:0:ffff:203.0.113.7', false)).toBe('203.0.113.7')
  })

  it('does not take a NAT64 or IPv4-compatible address for an IPv4 one', () => {
    expect(callerIp('64:ff9b::203.0.113.7')).toBe('64:ff9b:0:0::/64')
    expect(callerIp('::203.0.113.7')).toBe('0:0:0:0::/64')
  })
})
