import { readdirSync, readFileSync, readlinkSync } from 'node:fs'

/**
 * The pid of the process that listens on TCP `port` (Linux: the socket's inode in
 * /proc/net/tcp{,6}, then the process holding it). Exact where a command-line search is not:
 * a wrapper (the devchain's watchdog) shows the same arguments as the process it runs.
 */
export function listenerPid(port: number): number {
  const inodes = new Set<string>()
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = ''
    try {
      text = readFileSync(table, 'utf8')
    } catch {
      continue
    }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/)
      const local = fields[1]
      // State 0A is LISTEN; the local address ends in the port, in hex.
      if (!local || fields[3] !== '0A') continue
      if (Number.parseInt(local.split(':')[1] ?? '', 16) === port) inodes.add(fields[9] as string)
    }
  }
  if (inodes.size === 0) throw new Error(`nothing listens on port ${port}`)
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    let fds: string[]
    try {
      fds = readdirSync(`/proc/${entry}/fd`)
    } catch {
      continue
    }
    for (const fd of fds) {
      try {
        const inode = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${entry}/fd/${fd}`))?.[1]
        if (inode && inodes.has(inode)) return Number(entry)
      } catch {}
    }
  }
  throw new Error(`no process found holding the listener on port ${port}`)
}
