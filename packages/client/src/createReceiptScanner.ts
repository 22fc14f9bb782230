import { parseCreditReceipt } from './creditHeaders.js'
import type { CreditReceipt } from './types.js'

/** The SSE event a 402x seller ends a metered stream with: its data is the receipt's JSON. */
export const receiptEvent = 'x402-receipt'

// A receipt is a few hundred bytes: a longer line is not part of one, and is not kept, so a
// long stream costs this much memory at most.
const maxLine = 64 * 1024

export type ReceiptScanner = {
  /** Reads the stream's next bytes (any split: mid-line, mid-character, between CR and LF). */
  push(chunk: Uint8Array): void
  /** The stream ended: a last line without its line break still counts. */
  end(): void
}

/**
 * Reads Server-Sent Events as bytes arrive and calls `onReceipt` once, as soon as the data of an
 * `x402-receipt` event is complete and valid; from then on it reads nothing more. Lines and
 * fields follow the SSE spec (CR, LF or CRLF; `field: value` or `field:value`; comments).
 *
 * @example
 * const scanner = createReceiptScanner((receipt) => console.log(receipt.balance))
 * scanner.push(new TextEncoder().encode('event: x402-receipt\ndata: {"reserved":"5",…}\n\n'))
 */
export function createReceiptScanner(onReceipt: (receipt: CreditReceipt) => void): ReceiptScanner {
  const decoder = new TextDecoder()
  let line = ''
  let overlong = false
  // The last chunk ended with CR: an LF that starts the next one belongs to it.
  let afterCR = false
  let type = ''
  // The event's data lines, each followed by LF; `undefined` once too long to be a receipt.
  let data: string | undefined = ''
  let done = false

  const onLine = (text: string) => {
    if (text === '') {
      type = ''
      data = ''
      return
    }
    const colon = text.indexOf(':')
    if (colon === 0) return
    const field = colon < 0 ? text : text.slice(0, colon)
    const value = colon < 0 ? '' : text.slice(text[colon + 1] === ' ' ? colon + 2 : colon + 1)
    if (field === 'event') type = value
    else if (field === 'data' && data !== undefined) data = data.length > maxLine ? undefined : `${data}${value}\n`
    else return
    if (type !== receiptEvent || !data) return
    const receipt = parseCreditReceipt(data.slice(0, -1))
    if (!receipt) return
    done = true
    onReceipt(receipt)
  }

  const take = (text: string) => {
    if (overlong) return
    if (line.length + text.length > maxLine) {
      overlong = true
      line = ''
    } else line += text
  }
  const endLine = () => {
    const text = line
    line = ''
    if (!overlong) return onLine(text)
    overlong = false
    // A line too long to read might have been part of this event's data.
    data = undefined
  }

  const feed = (text: string) => {
    if (text === '') return
    let from = afterCR && text[0] === '\n' ? 1 : 0
    afterCR = false
    const breaks = /\r\n?|\n/g
    breaks.lastIndex = from
    for (let found = breaks.exec(text); found && !done; found = breaks.exec(text)) {
      take(text.slice(from, found.index))
      endLine()
      from = found.index + found[0].length
      afterCR = found[0] === '\r' && from === text.length
    }
    if (!done) take(text.slice(from))
  }

  return {
    push(chunk) {
      if (!done) feed(decoder.decode(chunk, { stream: true }))
    },
    end() {
      if (done) return
      feed(decoder.decode())
      if (!done && (line || overlong)) endLine()
    },
  }
}
