import type { IncomingMessage } from 'node:http'
import type { Connect } from './payOnConnect.js'
import type { SocketLike } from './types.js'

/** A billed socket being metered: `end()` writes its charges now; `closed` once written. */
type Metered = { ws: SocketLike; end(): void; closed: Promise<unknown> }

type Pending = {
  connect: Connect
  req: IncomingMessage
  /** Paid before the handshake (`verifyClient`, `handleUpgrade`), not in the `connection` handler. */
  beforeHandshake: boolean
}

/** How long `close()` waits for a caller to answer its close frame before the socket is cut. */
const closeGraceMs = 1_000

/** Why `close()` ends a billed connection (the close reason; code 1001, going away). */
export const shutdownReason = 'going_away: the server is shutting down; connect again'

/**
 * The paid connects of one WebSocket paywall, from their payment until their socket is open,
 * and its billed sockets until they close. A connect paid for a socket that never opens (the
 * handshake failed or was aborted, the caller left while it paid, the server shut down) is
 * undone: its credit released or refunded, its `exact` payment flagged undelivered (the
 * payer's signed retry is served at no new charge), as HTTP does for a paid answer it could
 * not deliver. `close()` ends the billed sockets and waits for their charges.
 */
export class Deliveries {
  /** Set by `close()`: no connect is accepted or delivered from then on. */
  closing = false
  private readonly pending = new Map<Connect, Pending>()
  private readonly undone = new WeakSet<Connect>()
  /** Connects being paid, and undos being written: what `close()` waits for. */
  private readonly work = new Set<Promise<unknown>>()
  private readonly metered = new Set<Metered>()

  constructor(private readonly onError: (error: unknown) => void) {}

  /** Keeps `promise` until it settles, for `close()` to wait for. */
  track<T>(promise: Promise<T>): Promise<T> {
    this.work.add(promise)
    const done = () => this.work.delete(promise)
    promise.then(done, done)
    return promise
  }

  /** A paid connect: delivered once its socket is open, else undone when that socket closes. */
  expect(connect: Connect, req: IncomingMessage): void {
    if (!connect.payment.verified || !connect.undelivered) return
    const entry: Pending = { connect, req, beforeHandshake: socketOf(req) === undefined }
    this.pending.set(connect, entry)
    const socket = req.socket
    if (!socket || socket.destroyed) this.final(entry)
    else socket.once('close', () => this.final(entry))
  }

  /** The connect reached an open socket (metered, or told it is paid): `false` if it was undone. */
  /** Whether a paid connect was undone (its socket closed before it was delivered). */
  isUndone(connect: Connect): boolean {
    return this.undone.has(connect)
  }

  deliver(connect: Connect): boolean {
    if (this.undone.has(connect)) return false
    this.pending.delete(connect)
    return true
  }

  /**
   * The handshake of a connect paid before it may have completed: an unbilled connect is
   * delivered once `ws` opened its socket (a billed one, once it is metered).
   */
  opened(connect: Connect): void {
    const entry = this.pending.get(connect)
    if (entry?.beforeHandshake && !connect.session && socketOf(entry.req) !== undefined) this.pending.delete(connect)
  }

  /** Undoes a paid connect that was not delivered, once: nothing is charged for it. */
  undo(connect: Connect): Promise<void> {
    if (this.undone.has(connect) || !connect.undelivered) return Promise.resolve()
    this.undone.add(connect)
    this.pending.delete(connect)
    const undelivered = connect.undelivered
    return this.track(
      Promise.resolve()
        .then(undelivered)
        .catch((error) => this.onError(error)),
    )
  }

  /** A billed socket, metered until it closes. */
  meter(entry: Metered): void {
    this.metered.add(entry)
    const done = () => this.metered.delete(entry)
    entry.closed.then(done, done)
  }

  /**
   * Stops delivering, undoes every connect paid and not delivered, closes the billed sockets
   * (1001, {@link shutdownReason}) and waits for their charges to be written: after it, the
   * stores can close.
   */
  async close(): Promise<void> {
    this.closing = true
    // A round can start more work (a connect paid while closing is undone): a few rounds drain it.
    for (let round = 0; round < 5; round++) {
      await Promise.allSettled([...this.work])
      for (const entry of [...this.pending.values()]) this.final(entry)
      await Promise.allSettled([...this.metered].map(endSocket))
      if (this.work.size === 0 && this.metered.size === 0) return
    }
    await Promise.allSettled([...this.work])
  }

  /** Its socket closed (or the paywall closes): delivered if its handshake completed, else undone. */
  private final(entry: Pending): void {
    if (!this.pending.has(entry.connect)) return
    this.opened(entry.connect)
    if (this.pending.has(entry.connect)) void this.undo(entry.connect)
  }
}

/** Closes a billed socket for shutdown, and resolves once its charges are written. */
async function endSocket(entry: Metered): Promise<void> {
  const { ws } = entry
  if (ws.readyState === 0 || ws.readyState === 1) ws.close(1001, shutdownReason)
  // The caller's answer to the close frame ends it (every send accounted for); one that does not answer is cut.
  let timer: ReturnType<typeof setTimeout> | undefined
  const answered = await Promise.race([
    entry.closed.then(() => true),
    new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), closeGraceMs)
    }),
  ])
  clearTimeout(timer)
  if (answered) return
  if (typeof ws.terminate === 'function') ws.terminate()
  else entry.end()
  await entry.closed
}

/** The `ws` WebSocket of an upgrade request, which `ws` (8.x) keeps on the request's socket once open. */
export function socketOf(req: IncomingMessage): SocketLike | undefined {
  const socket = req.socket as unknown as Record<symbol, unknown> | undefined
  if (!socket) return undefined
  const key = Object.getOwnPropertySymbols(socket).find((s) => s.description === 'websocket')
  const ws = key ? socket[key] : undefined
  return ws && typeof (ws as SocketLike).send === 'function' ? (ws as SocketLike) : undefined
}
