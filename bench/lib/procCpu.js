// CPU time of our own processes from /proc (Linux), to see where a run spends its CPU:
// the server child, anvil and this process (the load generator). Elsewhere it returns
// undefined and the bench reports no breakdown.
import { readdirSync, readFileSync } from 'node:fs'

const ticksPerSecond = 100 // USER_HZ: 100 on every mainstream Linux build

function stat(pid) {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const close = text.lastIndexOf(')')
    const name = text.slice(text.indexOf('(') + 1, close)
    const fields = text.slice(close + 2).split(' ')
    // After the name: state ppid … utime (14th field overall) stime (15th).
    return {
      pid,
      name,
      ppid: Number(fields[1]),
      cpuMs: ((Number(fields[11]) + Number(fields[12])) * 1000) / ticksPerSecond,
    }
  } catch {
    return undefined
  }
}

/** CPU milliseconds (user + system) a process has used; undefined when unknown. */
export function cpuMsOf(pid) {
  return pid === undefined ? undefined : stat(pid)?.cpuMs
}

/** The pid of a descendant of this process whose name is `name` (e.g. anvil). */
export function findDescendant(name) {
  let entries
  try {
    entries = readdirSync('/proc').filter((e) => /^\d+$/.test(e))
  } catch {
    return undefined
  }
  const all = entries.map((e) => stat(Number(e))).filter(Boolean)
  const mine = new Set([process.pid])
  let grew = true
  while (grew) {
    grew = false
    for (const p of all) {
      if (!mine.has(p.pid) && mine.has(p.ppid)) {
        mine.add(p.pid)
        grew = true
      }
    }
  }
  return all.find((p) => p.name === name && mine.has(p.pid) && p.pid !== process.pid)?.pid
}
