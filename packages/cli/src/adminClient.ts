import { type DevState, readDevState, X402Error } from '@402x/core'

export type AdminTarget = {
  /** The API's base URL, e.g. `http://127.0.0.1:4021`. */
  url: string
  token: string | undefined
}

/**
 * Where the admin API is: `--url`, else `X402_API_URL`, else the running `402x dev`'s demo
 * API; the token from `--token`, else `X402_ADMIN_TOKEN`, else, for the running `402x dev`'s
 * own API (`.402x/dev.json` in this folder, or `X402_STATE_DIR`), the token it made.
 */
export function adminTarget(options: { url?: string | undefined; token?: string | undefined }): AdminTarget {
  const dev = readDevState()
  const url = options.url ?? (process.env.X402_API_URL || undefined) ?? dev?.apiUrl
  if (!url) {
    throw new X402Error('invalid_request', {
      message: 'no API to manage: pass --url http://127.0.0.1:4021, set X402_API_URL, or run `402x dev` in this folder',
    })
  }
  if (!/^https?:\/\//.test(url)) {
    throw new X402Error('invalid_request', {
      message: `--url is "${url}": give an http(s) URL, e.g. http://127.0.0.1:4021`,
    })
  }
  const token = options.token ?? (process.env.X402_ADMIN_TOKEN || undefined) ?? devTokenFor(dev, url)
  return { url: url.replace(/\/+$/, ''), token }
}

/** The dev's admin token, for one of its own API URLs only: never sent to another server. */
function devTokenFor(dev: DevState | undefined, url: string): string | undefined {
  if (!dev?.adminToken) return undefined
  const origin = originOf(url)
  const own = [dev.apiUrl, ...(dev.apiUrls ?? [])].filter((u): u is string => Boolean(u)).map(originOf)
  return origin !== undefined && own.includes(origin) ? dev.adminToken : undefined
}

function originOf(url: string): string | undefined {
  try {
    return new URL(url).origin
  } catch {
    return undefined
  }
}

/**
 * One admin API call: its JSON answer, or an error carrying the server's message (and its
 * code in `details.error`).
 */
export async function adminCall(
  target: AdminTarget,
  method: string,
  path: string,
  body?: unknown,
): Promise<Record<string, unknown>> {
  const url = `${target.url}/__402x/admin${path}`
  let response: Response
  try {
    response = await fetch(url, {
      method,
      headers: {
        ...(target.token ? { authorization: `Bearer ${target.token}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(30_000),
    })
  } catch (cause) {
    throw new X402Error('invalid_request', {
      message: `could not reach the admin API at ${url} (${(cause as Error).message}): check --url, or start the server (402x dev)`,
      cause,
    })
  }
  const text = await response.text()
  let json: Record<string, unknown> | undefined
  try {
    json = text ? (JSON.parse(text) as Record<string, unknown>) : {}
  } catch {}
  if (response.ok && json) return json
  const error = typeof json?.error === 'string' ? json.error : `http_${response.status}`
  const message =
    typeof json?.message === 'string'
      ? json.message
      : response.status === 404
        ? `${url} answered 404: this API serves no admin API (it needs \`keys\`), or --url is not its base URL`
        : `${url} answered ${response.status} ${text.slice(0, 200)}`
  throw new X402Error('invalid_request', { message, details: { error, status: response.status } })
}
