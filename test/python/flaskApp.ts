import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { cliBin } from '../helpers/devProcess.js'
import { skipOrFail } from '../helpers/services.js'
import { type Child, startChild } from './children.js'

/** Debian's Python, where `.ci/run` installs python3-flask. */
export const python = '/usr/bin/python3'
const pythonDir = fileURLToPath(new URL('../../python', import.meta.url))

/** Whether Flask runs here; otherwise the reason is printed (or, under X402_REQUIRE_SERVICES=1, thrown). */
export const hasFlask = (): boolean =>
  spawnSync(python, ['-c', 'import flask'], { stdio: 'ignore' }).status === 0 ||
  Boolean(skipOrFail(`${python} cannot import flask (apt-get install python3-flask, as .ci/run does)`))

/** A Flask app and the `402x gateway` it asks: stop both with `stop()`. */
export type FlaskApp = { url: string; gateway: Child; flask: Child; stop(): Promise<void> }

/**
 * Starts `402x gateway` configured with paywall `options` (a `402x.yaml` of them, so the
 * ledger, asset and facilitator are exactly the caller's), then the Flask app `script`
 * with `X402_GATEWAY_URL` pointing at it. The app prints `listening http://…` when ready.
 */
export async function startFlaskApp(options: Record<string, unknown>, script: string): Promise<FlaskApp> {
  const dir = mkdtempSync(join(tmpdir(), '402x-flask-'))
  const env: NodeJS.ProcessEnv = { ...process.env, X402_STATE_DIR: dir }
  delete env.X402_GATEWAY_URL
  delete env.X402_GATEWAY_TOKEN
  const config = join(dir, '402x.yaml')
  // JSON is YAML: the options as they are, with no routes (the app declares its prices).
  writeFileSync(config, JSON.stringify({ ...options, routes: {} }))
  let gateway: Child | undefined
  let flask: Child | undefined
  const stop = async () => {
    try {
      await flask?.stop()
      await gateway?.stop()
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }
  try {
    gateway = await startChild(process.execPath, [cliBin, 'gateway', '--config', config, '--port', '0', '--json'], {
      name: '402x gateway',
      cwd: dir,
      ready: /^\{.*"url"/,
      env,
    })
    const { url: gatewayUrl } = JSON.parse(gateway.ready) as { url: string }
    flask = await startChild(python, [script], {
      name: `the Flask app ${script}`,
      cwd: dir,
      ready: /^listening http/,
      env: { ...env, X402_GATEWAY_URL: gatewayUrl, PYTHONPATH: pythonDir, PYTHONDONTWRITEBYTECODE: '1' },
    })
    return { url: flask.ready.replace('listening ', '').trim(), gateway, flask, stop }
  } catch (error) {
    await stop()
    throw error
  }
}
