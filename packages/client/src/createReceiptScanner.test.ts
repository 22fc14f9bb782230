import { describe, expect, it } from 'vitest'
import { createReceiptScanner } from './createReceiptScanner.js'
import type { CreditReceipt } from './types.js'

const receiptJson =
  '{"reserved":"50000","captured":"900","returned":"49100","balance":"999100","decimals":6,"refund":"credit"}'
const expected: CreditReceipt = {
  reserved: 50_000n,
  captured: 900n,
  returned: 49_100n,
  balance: 999_100n,
  decimals: 6,
  refund: 'credit',
}
const encode = (text: string) => new TextEncoder().encode(text)

/** Scans `bytes` cut at `cuts`, and returns every receipt found. */
function scan(bytes: Uint8Array, cuts: number[] = []) {
  const found: CreditReceipt[] = []
  const scanner = createReceiptScanner((r) => found.push(r))
  let from = 0
  for (const cut of [...cuts, bytes.length]) {
    scanner.push(bytes.subarray(from, cut))
    from = cut
  }
  scanner.end()
  return found
}

describe('createReceiptScanner', () => {
  it('finds the receipt whatever the chunk boundaries: mid-word, mid-character, between CR and LF', () => {
    const body = encode(
      [
        `data: ${JSON.stringify({ choices: [{ delta: { content: 'héllo € 😀' } }] })}`,
        '',
        ': a comment',
        'data: [DONE]',
        '',
        'event: x402-receipt',
        `data: ${receiptJson}`,
        '',
        '',
      ].join('\r\n'),
    )
    // Every single cut, and every byte on its own.
    for (let cut = 0; cut <= body.length; cut++) expect(scan(body, [cut])).toEqual([expected])
    expect(scan(body, Array.from(body.keys()))).toEqual([expected])
    // A character split between chunks is decoded whole (were it not, the refund would differ).
    const wide = encode(`event: x402-receipt\ndata: ${receiptJson.replace('"credit"', '"crédit €😀"')}\n\n`)
    for (let cut = 0; cut <= wide.length; cut++)
      expect(scan(wide, [cut])).toEqual([{ ...expected, refund: 'crédit €😀' }])
  })

  it('reads fields in any order and spelling, and data split over several lines', () => {
    const lines = (...l: string[]) => encode(`${l.join('\n')}\n\n`)
    expect(scan(lines(`data:${receiptJson}`, 'event:x402-receipt'))).toEqual([expected])
    // (Data lines are joined with LF, which JSON reads as white space between two fields.)
    const at = receiptJson.indexOf('"returned"')
    const [head, tail] = [receiptJson.slice(0, at), receiptJson.slice(at)]
    expect(scan(lines('event: x402-receipt', `data: ${head}`, `data: ${tail}`))).toEqual([expected])
    expect(scan(encode(`event: x402-receipt\rdata: ${receiptJson}\r\r`))).toEqual([expected])
  })

  it('ignores other events, receipts that are not valid, and data too long to be one', () => {
    const lines = (...l: string[]) => encode(`${l.join('\n')}\n\n`)
    expect(scan(lines('event: other', `data: ${receiptJson}`))).toEqual([])
    expect(scan(lines(`data: ${receiptJson}`))).toEqual([])
    // The event type of one event does not carry over to the next.
    expect(scan(encode(`event: x402-receipt\n\ndata: ${receiptJson}\n\n`))).toEqual([])
    expect(scan(lines('event: x402-receipt', 'data: {"reserved":"x"}'))).toEqual([])
    const long = `data: ${'x'.repeat(70_000)}`
    expect(scan(lines('event: x402-receipt', long, `data: ${receiptJson}`))).toEqual([])
    // …while the next event is read as usual.
    expect(scan(lines(long, '', 'event: x402-receipt', `data: ${receiptJson}`))).toEqual([expected])
  })

  it('reads a last line that the stream ends without a line break, and one receipt only', () => {
    expect(scan(encode(`event: x402-receipt\ndata: ${receiptJson}`))).toEqual([expected])
    const twice = `event: x402-receipt\ndata: ${receiptJson}\n\n`.repeat(2)
    expect(scan(encode(twice))).toEqual([expected])
  })
})
