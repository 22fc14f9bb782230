/**
 * Whether `host` (a URL's `host`: `api.example.com`, `127.0.0.1:40655`, `[::1]:8080`) is
 * allowed by `pattern`. A pattern without a port allows that host on every port
 * (`127.0.0.1` allows `127.0.0.1:40655`); a pattern with a port allows only that port
 * (`127.0.0.1:4021`). `*.example.com` allows every subdomain of example.com, on every port.
 *
 * @example
 * matchHost('127.0.0.1:40655', '127.0.0.1') // true
 * matchHost('127.0.0.1:40655', '127.0.0.1:4021') // false
 */
export function matchHost(host: string, pattern: string): boolean {
  const target = split(host)
  const wanted = split(pattern.startsWith('*.') ? pattern.slice(2) : pattern)
  if (!target || !wanted) return false
  if (wanted.port && wanted.port !== target.port) return false
  return pattern.startsWith('*.')
    ? target.hostname.endsWith(`.${wanted.hostname}`)
    : target.hostname === wanted.hostname
}

// `name`, `name:port`, `[v6]` or `[v6]:port`. The port is kept as written (URL drops `:80`).
const split = (host: string) => {
  const m = /^(\[[^\]]+\]|[^:[\]]+)(?::(\d+))?$/.exec(host.trim())
  return m?.[1] ? { hostname: m[1].toLowerCase(), port: m[2] ?? '' } : undefined
}
