import type { CreditReceipt } from '@402x/core'
/** One payment, as the client saw it settle. */
export type Receipt = {
  url: string
  method: string
  /** Atomic units. */
  amount: bigint
  /** Dollars, e.g. "0.01". */
  price: string
  payTo: string
  payer: string
  network: string
  asset: string
  /** The settlement transaction hash. */
  transaction: string
  /** `pending`: sent but not confirmed when the server answered. */
  status: 'settled' | 'pending'
  at: Date
  /** Set when the payment bought prepaid credit (`POST …/__402x/credits`), not the response itself. */
  topUp?: true
}

/** What a credit-funded or metered request cost (the server's `X-402x-Receipt` header): one definition, in core. */
export type { CreditReceipt }

/** The client's prepaid credit at one origin. */
export type CreditAccountState = {
  /** The bearer token sent to this origin. */
  token?: string
  /** The last known available balance, in dollars (e.g. "0.99"). */
  balance?: string
  /** Where credit is bought, once the origin has advertised it. */
  topUp?: string
}

/** Prepaid credit per origin (`https://api.example.com`). */
export type CreditState = Record<string, CreditAccountState>
