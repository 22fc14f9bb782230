import type { ServerResponse } from 'node:http'

/**
 * Until a response whose `write()` said its buffer is full can take more (`'drain'`), or is
 * gone: a writer that waits for it holds the server to a bounded buffer for a slow reader.
 *
 * @example
 * if (!res.write(chunk)) await drained(res)
 */
export function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    if (res.destroyed || !res.writableNeedDrain) return resolve()
    const done = () => {
      res.off('drain', done)
      res.off('close', done)
      resolve()
    }
    res.on('drain', done)
    res.on('close', done)
  })
}
