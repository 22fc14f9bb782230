/** `ws`'s own Blob test (lib/validation.js): a Blob or a File, from any realm. */
function isBlob(value: object): value is Blob {
  const blob = value as Partial<Blob> & { [Symbol.toStringTag]?: unknown }
  const tag = blob[Symbol.toStringTag]
  return (
    typeof blob.arrayBuffer === 'function' &&
    typeof blob.type === 'string' &&
    typeof blob.stream === 'function' &&
    (tag === 'Blob' || tag === 'File')
  )
}

/**
 * The bytes `ws` (8.x) puts in the message for what `ws.send` is given, counted as `ws`
 * counts them: a number as its decimal string, nothing (`null`, `undefined`, `''`) as no
 * bytes, a string as its UTF-8, a Blob by its size, a Buffer, an ArrayBuffer or any view
 * (typed array, DataView) by its bytes, and anything else (an array, an array-like) as
 * `Buffer.from` makes it, as `ws` does: an array of Buffers is one byte per element, since
 * `ws` does not join them. Throws, as `ws.send` would, for what `ws` cannot send (`{}`).
 *
 * @example
 * sentBytes('héllo') // 6
 * sentBytes(new Blob(['héllo'])) // 6
 * sentBytes(new Uint16Array(4).subarray(1)) // 6
 */
export function sentBytes(data: unknown): number {
  if (typeof data === 'string') return Buffer.byteLength(data)
  if (typeof data === 'number') return Buffer.byteLength(String(data))
  if (!data) return 0
  if (ArrayBuffer.isView(data) || data instanceof ArrayBuffer) return data.byteLength
  if (typeof data === 'object' && isBlob(data)) return data.size
  return Buffer.from(data as Uint8Array).length
}
