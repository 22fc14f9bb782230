// The proxy section's processes that are not bench server scripts: `402x proxy` (the CLI, as a
// user runs it) and Debian's nginx, each with a config and a prefix of its own in a temp folder;
// and nginx's installation when it is missing. Each is stopped in `finally` by its caller,
// `stopProxyProcesses` (run.js's cleanup, on SIGINT/SIGTERM) stops any still running, and they
// are sent SIGTERM when this process exits.
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { cpuMsOf } from './procCpu.js'

const cliBin = fileURLToPath(new URL('../../packages/cli/dist/bin.js', import.meta.url))
export const nginxBinary = '/usr/sbin/nginx'

/** Each running process, with its `stop`. */
const running = new Map()
process.on('exit', () => {
  for (const child of running.keys()) child.kill('SIGTERM')
})

/** The temp folders of {@link tempDir} not removed yet. */
const folders = new Set()

/** A fresh temp folder (configs, nginx's prefix), removed by {@link removeTempDir} or on an interrupt. */
export function tempDir() {
  const dir = mkdtempSync(join(os.tmpdir(), 'bench-proxy-'))
  folders.add(dir)
  return dir
}

export function removeTempDir(dir) {
  rmSync(dir, { recursive: true, force: true })
  folders.delete(dir)
}

/** Stops every process of this module still running (an interrupted run), waits for them, and removes the temp folders. */
export async function stopProxyProcesses() {
  await Promise.all([...running.values()].map((stop) => stop()))
  for (const dir of [...folders]) removeTempDir(dir)
}

/** The pids of `pid` and its descendants (nginx's master and workers), from /proc. */
export function pidsUnder(pid) {
  const parents = new Map()
  for (const entry of readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
    try {
      const text = readFileSync(`/proc/${entry}/stat`, 'utf8')
      parents.set(Number(entry), Number(text.slice(text.lastIndexOf(')') + 2).split(' ')[1]))
    } catch {
      // gone between the listing and the read
    }
  }
  const mine = [pid]
  for (let grew = true; grew; ) {
    grew = false
    for (const [p, parent] of parents)
      if (!mine.includes(p) && mine.includes(parent)) {
        mine.push(p)
        grew = true
      }
  }
  return mine.filter((p) => parents.has(p))
}

/** CPU ms (user + system) of a process and its descendants, from /proc. */
export const treeCpuMs = (pids) => pids.reduce((n, pid) => n + (cpuMsOf(pid) ?? 0), 0)

/**
 * Spawns a process and resolves once `ready(output)` returns a value (polled every 50 ms,
 * bounded by `timeoutMs`), or rejects when it exits first, with its output. `stop()` sends
 * SIGTERM, then SIGKILL to it and its descendants after 5 s.
 */
async function start({ name, command, args, env, cwd, ready, timeoutMs = 20_000 }) {
  const child = spawn(command, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  const keep = (chunk) => {
    output = (output + chunk).slice(-8000)
  }
  child.stdout.on('data', keep)
  child.stderr.on('data', keep)
  let gone = false
  const exited = new Promise((resolve) => {
    child.once('error', (error) => {
      keep(`\n${error.message}`)
      gone = true
      resolve()
    })
    child.once('exit', () => {
      gone = true
      resolve()
    })
  })
  const stop = async () => {
    running.delete(child)
    if (gone) return
    const pids = pidsUnder(child.pid)
    child.kill('SIGTERM')
    const timer = setTimeout(() => {
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGKILL')
        } catch {
          // already gone
        }
      }
    }, 5000)
    await exited
    clearTimeout(timer)
  }
  running.set(child, stop)
  try {
    const until = performance.now() + timeoutMs
    for (;;) {
      if (gone) throw new Error(`${name} exited (code ${child.exitCode}) before it was ready:\n${output}`)
      const value = await ready(() => output)
      if (value !== undefined) return { ...value, pid: child.pid, stop, output: () => output }
      if (performance.now() > until) throw new Error(`${name} was not ready within ${timeoutMs} ms:\n${output}`)
      await Promise.race([exited, new Promise((r) => setTimeout(r, 50))])
    }
  } catch (error) {
    await stop()
    throw error
  }
}

/**
 * `node packages/cli/dist/bin.js proxy --config <file> --port 0 --json`, in `cwd`, with no
 * X402_* of this environment and a state folder of its own (so no running `402x dev` lends it
 * settings: the file names them all). Resolves with its URL and port once it printed its line.
 * BENCH_CPU_PROF=<dir>: it writes a V8 CPU profile there when it stops.
 */
export function startProxyCli({ config, cwd }) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('X402_')))
  env.X402_STATE_DIR = join(cwd, '.402x')
  const profile = process.env.BENCH_CPU_PROF
  const args = [
    ...(profile ? ['--cpu-prof', `--cpu-prof-dir=${profile}`] : []),
    ...(process.env.BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? []),
    cliBin,
    'proxy',
    '--config',
    config,
    '--port',
    '0',
    '--json',
  ]
  return start({
    name: '402x proxy',
    command: process.execPath,
    args,
    env,
    cwd,
    ready: (output) => {
      const line = output()
        .split('\n')
        .find((l) => l.startsWith('{') && l.includes('"url"'))
      if (!line) return undefined
      const { url } = JSON.parse(line)
      return { url, port: Number(new URL(url).port) }
    },
  })
}

/** A free TCP port on 127.0.0.1 (for nginx, which cannot report the one it took). */
const freePort = () =>
  new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })

/**
 * nginx as a plain reverse proxy in front of the upstream: `proxy_pass` to an upstream block
 * with a keep-alive pool, HTTP/1.1 to it with `Connection ""`, the usual forwarded headers
 * (402x proxy sends them too), no access log, and keep-alive limits high enough that neither
 * side closes a connection during a run (nginx's default closes one every 1000 requests;
 * Node's servers and undici never do).
 */
export function nginxConf({ dir, port, upstreamPort, workers }) {
  return `worker_processes ${workers};
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream app {
    server 127.0.0.1:${upstreamPort};
    keepalive 64;
    keepalive_requests 1000000;
    keepalive_timeout 60s;
  }
  server {
    listen 127.0.0.1:${port};
    keepalive_requests 1000000;
    keepalive_timeout 60s;
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
    }
  }
}
`
}

/**
 * `nginx -p <dir> -c <dir>/nginx.conf -e <dir>/error.log -g 'daemon off;'` (its master and
 * `workers` workers), resolved once it answers on its port.
 */
export async function startNginx({ binary = nginxBinary, dir, upstreamPort, workers }) {
  mkdirSync(dir, { recursive: true })
  const port = await freePort()
  const conf = join(dir, 'nginx.conf')
  writeFileSync(conf, nginxConf({ dir, port, upstreamPort, workers }))
  const started = await start({
    name: 'nginx',
    command: binary,
    args: ['-p', `${dir}/`, '-c', conf, '-e', join(dir, 'error.log'), '-g', 'daemon off;'],
    env: process.env,
    cwd: dir,
    ready: async () => {
      try {
        const res = await fetch(`http://127.0.0.1:${port}/__bench/counts`, { signal: AbortSignal.timeout(1000) })
        await res.arrayBuffer()
        return { port }
      } catch {
        return undefined
      }
    },
  })
  const errorLog = () => (existsSync(join(dir, 'error.log')) ? readFileSync(join(dir, 'error.log'), 'utf8') : '')
  return { ...started, pids: () => pidsUnder(started.pid), errorLog }
}

/** Runs a command to its end (bounded; stopped with the others on an interrupt): its exit code and its output's tail. */
function run(command, args, env, timeoutMs) {
  return new Promise((resolve) => {
    const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    const keep = (chunk) => {
      output = (output + chunk).slice(-8000)
    }
    child.stdout.on('data', keep)
    child.stderr.on('data', keep)
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    running.set(child, async () => child.kill('SIGTERM'))
    const done = (code, error) => {
      clearTimeout(timer)
      running.delete(child)
      resolve({ code, tail: (error ?? output).trim().split('\n').slice(-3).join(' / ') })
    }
    child.once('error', (error) => done(null, error.message))
    child.once('close', (code) => done(code))
  })
}

/**
 * nginx's binary and version, installing Debian's package when it is missing
 * (`apt-get update`, then `apt-get install -y --no-install-recommends nginx`, through `sudo -n`
 * unless root). `BENCH_NGINX=<path>` names another binary, never installed. Resolves with
 * `{ error }` saying why when it cannot be had.
 */
export async function ensureNginx(progress, binary = process.env.BENCH_NGINX || nginxBinary) {
  if (!existsSync(binary) && binary !== nginxBinary) return { error: `BENCH_NGINX=${binary} does not exist` }
  if (!existsSync(binary)) {
    if (process.platform !== 'linux' || !existsSync('/usr/bin/apt-get'))
      return { error: `${binary} is missing and there is no apt-get to install it` }
    const root = process.getuid?.() === 0
    if (!root && !existsSync('/usr/bin/sudo'))
      return { error: `${binary} is missing, and this is not root and has no sudo to install it` }
    const prefix = root ? [] : ['sudo', '-n', 'env', 'DEBIAN_FRONTEND=noninteractive']
    for (const step of [
      ['apt-get', 'update'],
      ['apt-get', 'install', '-y', '--no-install-recommends', 'nginx'],
    ]) {
      progress(`proxy: nginx is missing: ${root ? '' : 'sudo '}${step.join(' ')}`)
      const [command, ...args] = [...prefix, ...step]
      const result = await run(command, args, { DEBIAN_FRONTEND: 'noninteractive' }, 600_000)
      if (result.code !== 0) return { error: `${step.join(' ')} failed (exit ${result.code}): ${result.tail}` }
    }
    if (!existsSync(binary)) return { error: `apt-get installed nginx, but ${binary} is not there` }
  }
  const version = await run(binary, ['-v'], {}, 10_000)
  return { binary, version: /nginx\/[\d.]+/.exec(version.tail)?.[0] ?? 'nginx (version unknown)' }
}
