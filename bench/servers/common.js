// Shared by every server child: the same handler, the same listen handshake and shutdown,
// so the scenarios differ only in the middleware in front of the handler.

/** The bench settings the parent passes in `BENCH_CONFIG`. */
export const config = JSON.parse(process.env.BENCH_CONFIG ?? '{}')

/** The handler behind every route, paid or free. */
export const handler = (_req, res) => {
  res.json({ ok: true, data: 'hello' })
}

/**
 * Listens on 127.0.0.1 on a free port, tells the parent which one, and exits when the
 * parent asks (SIGTERM) or goes away (IPC disconnect), running `onClose` first.
 */
export function serve(app, onClose = async () => {}) {
  const server = app.listen(0, '127.0.0.1', () => {
    process.send?.({ type: 'ready', port: server.address().port })
  })
  server.keepAliveTimeout = 60_000
  let closing = false
  const close = async () => {
    if (closing) return
    closing = true
    server.closeAllConnections()
    server.close()
    await Promise.race([onClose().catch(() => {}), new Promise((r) => setTimeout(r, 2000))])
    process.exit(0)
  }
  process.on('SIGTERM', close)
  process.on('SIGINT', close)
  process.on('disconnect', close)
}
