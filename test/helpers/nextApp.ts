import { spawn } from 'node:child_process'
import { rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'

/**
 * The Next.js fixture app (`test/fixtures/next-app`), built into its own folder and started
 * with `next start` on a free port; for tests that need no chain (unpaid requests only).
 * `remove()` deletes the build.
 */
const nextApp = fileURLToPath(new URL('../fixtures/next-app', import.meta.url))
const nextBin = createRequire(import.meta.url).resolve('next/dist/bin/next')

export function nextFixture(name: string) {
  const dist = `../../../node_modules/.cache/402x-next-${name}-${process.pid}`
  const env = { ...process.env, NEXT_TELEMETRY_DISABLED: '1', TEST_NEXT_DIST_DIR: dist }
  const run = (args: string[], extra: NodeJS.ProcessEnv = {}) => {
    const child = spawn(process.execPath, [nextBin, ...args, nextApp], {
      cwd: nextApp,
      env: { ...env, ...extra },
      stdio: 'pipe',
    })
    let output = ''
    child.stdout.on('data', (d: Buffer) => {
      output += d.toString()
    })
    child.stderr.on('data', (d: Buffer) => {
      output += d.toString()
    })
    return { child, output: () => output }
  }
  const stop = async (child: ReturnType<typeof run>['child']) => {
    if (child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGTERM')
    if ((await Promise.race([exited, sleep(5_000, 'timeout')])) === 'timeout') {
      child.kill('SIGKILL')
      await exited
    }
  }
  return {
    /** `next build`, bounded by 180 s. */
    async build() {
      const build = run(['build'])
      const timer = setTimeout(() => build.child.kill('SIGKILL'), 180_000)
      const code = await new Promise<number | null>((resolve) => build.child.once('exit', resolve))
      clearTimeout(timer)
      if (code !== 0) throw new Error(`next build failed (${code}):\n${build.output()}`)
    },
    /** `next start` with these settings in its environment; resolves with its URL and a stop function. */
    async start(extra: NodeJS.ProcessEnv): Promise<{ url: string; stop(): Promise<void> }> {
      const next = run(['start', '-p', '0', '-H', '127.0.0.1'], extra)
      try {
        const url = await new Promise<string>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`next start took over 30 s:\n${next.output()}`)), 30_000)
          const check = () => {
            const match = /Local:\s+(http:\/\/\S+)/.exec(next.output())
            if (match) {
              clearTimeout(timer)
              resolve(match[1] as string)
            }
          }
          next.child.stdout.on('data', check)
          next.child.once('exit', (code) => {
            clearTimeout(timer)
            reject(new Error(`next start exited (${code}):\n${next.output()}`))
          })
        })
        return { url, stop: () => stop(next.child) }
      } catch (error) {
        await stop(next.child)
        throw error
      }
    },
    remove() {
      rmSync(join(nextApp, dist), { recursive: true, force: true })
      rmSync(join(nextApp, 'next-env.d.ts'), { force: true })
    },
  }
}
