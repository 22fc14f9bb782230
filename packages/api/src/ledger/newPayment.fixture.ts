import { randomBytes, randomUUID } from 'node:crypto'
import type { NewPayment } from './types.js'

/** A verified payment with a random payer and nonce, for the ledger's tests (not built). */
export const newPayment = (overrides: Partial<NewPayment> = {}): NewPayment => ({
  id: randomUUID(),
  state: 'verified',
  network: 'eip155:31337',
  asset: `0x${'11'.repeat(20)}`,
  payTo: `0x${'22'.repeat(20)}`,
  payer: `0x${randomBytes(20).toString('hex')}`,
  nonce: `0x${randomBytes(32).toString('hex')}`,
  amount: '10000',
  validBefore: 2_000_000_000,
  method: 'GET',
  resource: 'http://127.0.0.1/paid',
  payload: JSON.stringify({ signature: randomBytes(65).toString('hex') }),
  requirements: JSON.stringify({ scheme: 'exact' }),
  ...overrides,
})
