import { type ChildProcess, spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const script = fileURLToPath(new URL('./rpcProxyProcess.mjs', import.meta.url))

/** What the proxy did: sends swallowed and forwarded, signals sent, stops the kernel showed. */
export type ProxyStats = {
  swallow: boolean
  swallowed: number
  forwarded: number
  signalled: number
  stopSeen: number
}

export type RpcProxyProcess = {
  /** The proxy's JSON-RPC URL. */
  url: string
  /** Whether `eth_sendRawTransaction` is swallowed (never forwarded, never answered). */
  swallow(on: boolean): Promise<void>
  /** Sends `signal` to process `pid` just as the next `eth_sendRawTransaction` is forwarded. */
  signalOnSend(pid: number, signal: 'SIGSTOP' | 'SIGKILL'): Promise<void>
  stats(): Promise<ProxyStats>
  stop(): Promise<void>
}

/** Starts `rpcProxyProcess.mjs` as a child process in front of `target`. Always `stop()` it. */
export async function startRpcProxyProcess(target: string): Promise<RpcProxyProcess> {
  const child: ChildProcess = spawn(process.execPath, [script, target], { stdio: ['ignore', 'pipe', 'pipe'] })
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
    child.kill('SIGKILL')
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5_000))])
  }
  try {
    const ready = await new Promise<{ url: string; control: string }>((resolve, reject) => {
      let out = ''
      let err = ''
      const timer = setTimeout(() => reject(new Error(`the RPC proxy was not ready in 10 s: ${err}`)), 10_000)
      child.stderr?.on('data', (d) => {
        err += d
        // X402_TEST_PROXY_LOG=1 shows the proxy's log of every request (debugging a chain test).
        if (process.env.X402_TEST_PROXY_LOG) process.stderr.write(d)
      })
      child.stdout?.on('data', (d) => {
        out += d
        if (!out.includes('\n')) return
        clearTimeout(timer)
        resolve(JSON.parse(out.split('\n')[0] as string))
      })
      child.once('exit', (code) => {
        clearTimeout(timer)
        reject(new Error(`the RPC proxy exited with ${code}: ${err}`))
      })
    })
    const call = async (path: string) => {
      const res = await fetch(`${ready.control}${path}`, { method: 'POST', signal: AbortSignal.timeout(5_000) })
      return res.json()
    }
    return {
      url: ready.url,
      swallow: async (on) => void (await call(`/swallow?on=${on ? 1 : 0}`)),
      signalOnSend: async (pid, signal) => void (await call(`/signal-on-send?pid=${pid}&signal=${signal}`)),
      stats: () => call('/stats') as Promise<ProxyStats>,
      stop,
    }
  } catch (error) {
    await stop()
    throw error
  }
}
