import { createReceiptScanner } from './createReceiptScanner.js'
import type { CreditReceipt } from './types.js'

const watched = new WeakMap<Response, Promise<CreditReceipt | undefined>>()

/** Whether a response is Server-Sent Events. */
export const isEventStream = (response: Response) =>
  (response.headers.get('content-type') ?? '').split(';')[0]?.trim().toLowerCase() === 'text/event-stream'

/**
 * The same response, its body passed through as it is read, byte for byte, and scanned on the
 * way for a final `x402-receipt` SSE event: `onReceipt` gets it before the caller gets its
 * bytes. Nothing is buffered beyond the chunk in hand. Status, headers, `url`, `redirected`
 * and a payment `receipt` are kept. `streamReceiptOf` gives the receipt too.
 *
 * @example
 * const watched = watchCreditStream(await fetch(url), (receipt) => console.log(receipt.balance))
 */
export function watchCreditStream(response: Response, onReceipt: (receipt: CreditReceipt) => void): Response {
  const body = response.body
  if (!body) return response
  let settle: (receipt: CreditReceipt | undefined) => void = () => {}
  const receipt = new Promise<CreditReceipt | undefined>((resolve) => {
    settle = resolve
  })
  const scanner = createReceiptScanner((found) => {
    onReceipt(found)
    settle(found)
  })
  const pass = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      scanner.push(chunk)
      controller.enqueue(chunk)
    },
    flush() {
      scanner.end()
    },
  })
  // Piped by hand rather than with pipeThrough() to see it end: a body that ends, fails or is
  // cancelled by the caller without a receipt settles the promise with `undefined`. (A caller's
  // cancel reaches the server as it would have: the pipe cancels the original body.)
  body.pipeTo(pass.writable).then(
    () => settle(undefined),
    () => settle(undefined),
  )
  const wrapped = new Response(pass.readable, {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
  })
  // A constructed Response has no url: keep what fetch said (wrapFetch and callers read it).
  for (const key of ['url', 'redirected', 'type', 'receipt'] as const) {
    if (key in response) Object.defineProperty(wrapped, key, { value: response[key as keyof Response] })
  }
  watched.set(wrapped, receipt)
  return wrapped
}

/**
 * The receipt a metered stream ends with (its final `x402-receipt` SSE event), read by
 * `wrapFetch` as the body passes through to you. It resolves when that event has been read, and
 * with `undefined` when the body ends, fails or is cancelled without one, or at once for a
 * response that is not a stream of an origin the client keeps credit for. It settles only as the
 * body is read: await it after reading, not instead. By then `pay.credits` has the new balance.
 *
 * @example
 * const res = await pay('https://api.example.com/chat', { method: 'POST', body })
 * for await (const chunk of res.body ?? []) process.stdout.write(chunk)
 * const cost = await streamReceiptOf(res) // { captured: 900n, balance: 999_100n, decimals: 6, … }
 */
export function streamReceiptOf(response: Response): Promise<CreditReceipt | undefined> {
  return watched.get(response) ?? Promise.resolve(undefined)
}
