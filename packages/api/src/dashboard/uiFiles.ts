import { createHash } from 'node:crypto'
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, extname, join, relative, sep } from 'node:path'
import { fileURLToPath } from 'node:url'

/** Content types of a built app's files, by extension. */
export const uiTypes: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
}

/** One built file of a front-end app, read once. */
export type UiFile = { body: Uint8Array; type: string; etag: string; immutable: boolean }

/**
 * The folder of a built front-end app (`apps/<name>` → `packages/api/dist/ui/<name>`):
 * beside the compiled code in the package, else (running from `src`, in tests) in `dist`.
 */
export function uiDir(name: string): string | undefined {
  for (const dir of uiCandidates(name)) if (existsSync(join(dir, 'index.html'))) return dir
  return undefined
}

/**
 * Where a built app may be, as plain paths: never `new URL(template, import.meta.url)`,
 * which bundlers (Next's Turbopack) try to resolve at build time, and fail on.
 */
export function uiCandidates(name: string): string[] {
  const here = dirname(fileURLToPath(import.meta.url))
  return [join(here, '..', 'ui', name), join(here, '..', '..', 'dist', 'ui', name)]
}

/**
 * Every file of a built app, by its path under the app (`/index.html`, `/assets/x.js`),
 * read into memory once: a request names one of these or nothing, so no path a caller
 * spells ever reaches the file system. Files under `assets/` carry a content hash in
 * their names (Vite's) and are cached for a year.
 *
 * @example
 * const files = loadUiFiles(uiDir('dashboard')!)
 * files.get('/index.html')
 */
export function loadUiFiles(dir: string): Map<string, UiFile> {
  const files = new Map<string, UiFile>()
  const walk = (folder: string) => {
    for (const name of readdirSync(folder)) {
      const full = join(folder, name)
      if (statSync(full).isDirectory()) walk(full)
      else {
        const body = readFileSync(full)
        const path = `/${relative(dir, full).split(sep).join('/')}`
        files.set(path, {
          body,
          type: uiTypes[extname(name).toLowerCase()] ?? 'application/octet-stream',
          etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`,
          immutable: path.startsWith('/assets/'),
        })
      }
    }
  }
  walk(dir)
  return files
}
