import { describe, expect, it } from 'vitest'
import { createGeoCountry, isLocalAddress } from './geoCountry.js'

describe('GeoIP country', () => {
  it('reads the country from the database shipped in @ip-location-db/dbip-country, IPv4 and IPv6', async () => {
    const geo = createGeoCountry()
    expect(geo.lookup('8.8.8.8')).toBeUndefined() // loading
    await geo.ready('8.8.8.8')
    expect(geo.lookup('8.8.8.8')).toBe('US')
    expect(geo.lookup('::ffff:8.8.8.8')).toBe('US')
    expect(geo.lookup('81.2.69.142')).toBe('GB')
    await geo.ready('2a00:1450:4001::1')
    // As DB-IP places them: Google's 2001:4860:4801::/48 in the US, the /48s around it in Canada.
    expect(geo.lookup('2001:4860:4801::1')).toBe('US')
    expect(geo.lookup('2001:4860:4802::1')).toBe('CA')
    expect(geo.lookup('2001:4860:4801:ffff:ffff:ffff:ffff:ffff')).toBe('US')
  })

  it('says local for loopback and private addresses, unknown for none, without loading anything', () => {
    const geo = createGeoCountry(() => {
      throw new Error('not read for local addresses')
    })
    for (const ip of [
      '127.0.0.1',
      '10.1.2.3',
      '192.168.1.9',
      '172.20.0.1',
      '::1',
      'fd00::1',
      'fe80::1',
      '::ffff:10.0.0.1',
    ])
      expect(geo.lookup(ip)).toBe('local')
    expect(geo.lookup(undefined)).toBe('unknown')
    expect(geo.lookup('not-an-ip')).toBe('unknown')
    expect(isLocalAddress('8.8.8.8')).toBe(false)
  })
})
