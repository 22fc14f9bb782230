/**
 * A Host header value that is a valid `host[:port]` (a name, an IPv4 or a bracketed IPv6
 * address), or no Host at all (HTTP/1.0). Anything else (`a#`, `a?`, `a b`, empty, over 261
 * characters) would change a URL built from it, so a priced request with it is a 400.
 */
export const isValidHost = (host: string | null | undefined): boolean =>
  host === undefined || host === null || (host.length <= 261 && validHost.test(host))

const validHost = /^(?:[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*\.?|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$/
