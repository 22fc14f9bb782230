/**
 * The bytes of Responses that 402x builds from a string or a buffer, so that the Node
 * adapters write them without reading a web stream back (a few hundred µs per answer on
 * Node 20). A response not listed here is read the standard way.
 */
const bodies = new WeakMap<Response, string | Uint8Array | null>()

/** A Response whose body is kept for a fast write. */
export function responseOf(body: string | Uint8Array | null, init: ResponseInit): Response {
  const response = new Response(body, init)
  bodies.set(response, body)
  return response
}

/** The body of a Response built by {@link responseOf}, or `undefined`. */
export const knownBody = (response: Response): string | Uint8Array | null | undefined => bodies.get(response)
