import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { stateDir } from './devState.js'

// The state folder: X402_STATE_DIR when it names one, else `<cwd>/.402x`.
describe('stateDir', () => {
  const saved = process.env.X402_STATE_DIR
  afterEach(() => {
    if (saved === undefined) delete process.env.X402_STATE_DIR
    else process.env.X402_STATE_DIR = saved
  })

  it('is <cwd>/.402x without X402_STATE_DIR, and when it is set empty', () => {
    delete process.env.X402_STATE_DIR
    expect(stateDir('/srv/app')).toBe(join('/srv/app', '.402x'))
    process.env.X402_STATE_DIR = ''
    expect(stateDir('/srv/app')).toBe(join('/srv/app', '.402x'))
  })

  it('is X402_STATE_DIR when it names a folder', () => {
    process.env.X402_STATE_DIR = '/var/lib/402x'
    expect(stateDir('/srv/app')).toBe('/var/lib/402x')
  })
})
