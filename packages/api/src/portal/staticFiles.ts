import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { extname, join, relative, sep } from 'node:path'
import { uiCandidates, uiTypes } from '../dashboard/uiFiles.js'
import { errorResponse } from '../paywall/responses.js'

type StaticFile = { body: Buffer; type: string; immutable: boolean }

/**
 * Where a built UI app is (`vite build` into `packages/api/dist/ui/<app>`): beside the
 * compiled package (`dist/portal/… → dist/ui/<app>`), or from the sources (`src/portal/…`).
 */
export function uiDir(app: string): string {
  const candidates = uiCandidates(app)
  for (const dir of candidates) if (existsSync(join(dir, 'index.html'))) return dir
  return candidates[0] as string
}

/**
 * The files of a built app, read once into memory by their path under `base`: only what
 * the build wrote is ever served (no path from a request reaches the file system).
 *
 * @example
 * const serve = staticFiles(uiDir('portal'), '/__402x/portal')
 * const response = serve('/__402x/portal/assets/index-abc.js')
 */
export function staticFiles(dir: string, base: string): (path: string, method: string) => Response {
  let files: Map<string, StaticFile> | undefined
  const load = () => {
    const found = new Map<string, StaticFile>()
    if (!existsSync(dir)) return found
    const walk = (at: string) => {
      for (const name of readdirSync(at)) {
        const full = join(at, name)
        if (statSync(full).isDirectory()) walk(full)
        else {
          const path = `${base}/${relative(dir, full).split(sep).join('/')}`
          const type = uiTypes[extname(name).toLowerCase()] ?? 'application/octet-stream'
          found.set(path, { body: readFileSync(full), type, immutable: path.startsWith(`${base}/assets/`) })
        }
      }
    }
    walk(dir)
    return found
  }
  return (path, method) => {
    files ??= load()
    const index = files.get(`${base}/index.html`)
    if (!index) {
      files = undefined
      return errorResponse(
        503,
        'portal_not_built',
        `the portal's page is not built (${dir} has no index.html): run npm run build in the 402x repository, or install a published 402x-api`,
      )
    }
    if (method !== 'GET' && method !== 'HEAD') {
      const response = errorResponse(405, 'method_not_allowed', `${method} is not served at ${path}: use GET`)
      response.headers.set('allow', 'GET, HEAD')
      return response
    }
    const file = path === base || path === `${base}/` ? index : files.get(path)
    if (!file) return errorResponse(404, 'not_found', `no portal file at ${path.slice(0, 200)}: open ${base}`)
    return new Response(method === 'HEAD' ? null : new Uint8Array(file.body), {
      status: 200,
      headers: {
        'content-type': file.type,
        'content-length': String(file.body.length),
        'cache-control': file.immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
        'x-content-type-options': 'nosniff',
        ...(file === index
          ? {
              'content-security-policy':
                "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
              'referrer-policy': 'no-referrer',
            }
          : {}),
      },
    })
  }
}
