/** The fetch adapter's own option: how it finds the caller's address. */
export type FetchAddressOptions<Rest extends unknown[] = unknown[]> = {
  /**
   * The caller's address, for the limits and free tiers that count by IP (`by: 'ip'`, the
   * default). Called with the handler's own arguments; return `undefined` when there is none
   * (logged once: such requests share one count). Give it where the runtime is none of the
   * ones below, or behind a proxy whose header you trust, e.g.
   * `ip: (request) => request.headers.get('fly-client-ip') ?? undefined`.
   *
   * @default the runtime's own: Bun's `server.requestIP(request).address` (`fetch(request, server)`),
   * Deno's `info.remoteAddr.hostname` (`Deno.serve((request, info) => …)`), Cloudflare
   * Workers' `cf-connecting-ip` (read only where `request.cf` is set, i.e. on Workers); else none
   */
  ip?: (request: Request, ...rest: Rest) => string | undefined
}

type BunServer = { requestIP(request: Request): { address?: unknown } | null }
type DenoInfo = { remoteAddr?: { hostname?: unknown } }

const present = (value: unknown): string | undefined => (typeof value === 'string' && value ? value : undefined)

/**
 * The caller's address as a fetch runtime hands it to the handler, or `undefined`: Bun passes
 * its server (`requestIP`), Deno the connection's info (`remoteAddr`), and Cloudflare Workers
 * set `cf-connecting-ip` (trusted only beside `request.cf`, which no client can send: on any
 * other runtime the header is the caller's to write).
 *
 * @example
 * Bun.serve({ fetch: (request, server) => Response.json({ ip: fetchAddress(request, [server]) }) })
 */
export function fetchAddress(request: Request, rest: readonly unknown[]): string | undefined {
  const [second] = rest
  if (typeof second === 'object' && second !== null) {
    if (typeof (second as Partial<BunServer>).requestIP === 'function') {
      return present((second as BunServer).requestIP(request)?.address)
    }
    const hostname = present((second as DenoInfo).remoteAddr?.hostname)
    if (hostname) return hostname
  }
  const { cf } = request as { cf?: unknown }
  if (typeof cf === 'object' && cf !== null) return present(request.headers.get('cf-connecting-ip'))
  return undefined
}

/** The address-finder of a fetch-style adapter: the seller's `ip`, else the runtime's. */
export const addressOf = <Rest extends unknown[]>(
  ip: FetchAddressOptions<Rest>['ip'],
): ((request: Request, rest: Rest) => string | undefined) =>
  ip ? (request, rest) => present(ip(request, ...rest)) : fetchAddress
