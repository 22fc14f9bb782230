import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { z } from 'zod'

/** What a running `402x dev` writes to `.402x/dev.json`. */
export const DevStateSchema = z.object({
  pid: z.number(),
  rpcUrl: z.string(),
  chainId: z.number(),
  network: z.string(),
  asset: z.string(),
  eip712: z.object({ name: z.string(), version: z.string() }),
  facilitatorUrl: z.string(),
  apiUrl: z.string().optional(),
  /** Every demo API instance's URL (`--instances N`), the first being `apiUrl`. */
  apiUrls: z.array(z.string()).optional(),
  payTo: z.string(),
  buyerPrivateKey: z.string(),
  /** The demo API's admin token: the `402x` commands send it to `apiUrls` (the file is 0600). */
  adminToken: z.string().optional(),
})
export type DevState = z.infer<typeof DevStateSchema>

/** The folder `402x dev` and the embedded ledger use: `X402_STATE_DIR`, else `<cwd>/.402x`. */
export function stateDir(cwd = process.cwd()): string {
  return process.env.X402_STATE_DIR || join(cwd, '.402x')
}

const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * Reads `.402x/dev.json` when a `402x dev` is running; `undefined` when there is none or
 * the process that wrote it is gone.
 *
 * @example
 * const dev = readDevState()
 * if (dev) console.log(dev.apiUrl)
 */
export function readDevState(cwd = process.cwd()): DevState | undefined {
  const path = join(stateDir(cwd), 'dev.json')
  if (!existsSync(path)) return undefined
  try {
    const state = DevStateSchema.parse(JSON.parse(readFileSync(path, 'utf8')))
    return isAlive(state.pid) ? state : undefined
  } catch {
    return undefined
  }
}
