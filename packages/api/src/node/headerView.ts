import type { IncomingMessage } from 'node:http'

/**
 * A Node request's headers as a Web `Headers` reads them (`get`, case-insensitive, repeated
 * headers joined with ", "), straight from `rawHeaders`: nothing is copied.
 */
export function headerView(req: IncomingMessage): { get(name: string): string | null } {
  const raw = req.rawHeaders
  return {
    get(name: string) {
      const wanted = name.toLowerCase()
      let value: string | null = null
      for (let i = 0; i < raw.length; i += 2) {
        const key = raw[i] as string
        if (key.length === wanted.length && key.toLowerCase() === wanted) {
          value = value === null ? (raw[i + 1] as string) : `${value}, ${raw[i + 1]}`
        }
      }
      return value
    },
  }
}
