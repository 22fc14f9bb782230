/**
 * What the analytics store reads of a request: the fields of `RequestEvent` it aggregates
 * (the full event is `paywall.events.on('request', …)`'s).
 */
export type RecordedRequest = {
  at: number
  durationMs: number
  route: string
  path: string
  status: number
  outcome: 'paid' | 'credit' | 'key' | 'free' | 'refused' | 'error'
  amount: bigint
  payer?: string | undefined
  account?: string | undefined
  keyId?: string | undefined
  ip?: string | undefined
}

/**
 * How a request ended, as the dashboard counts it: served (`paid`, `credit`, `key`,
 * `free`), or refused by its status (`402`, `429`, other `4xx`, `5xx`).
 */
export type Outcome = 'paid' | 'credit' | 'key' | 'free' | '402' | '429' | '4xx' | '5xx'

/** The outcomes, in the order the dashboard shows them. */
export const outcomes: readonly Outcome[] = ['paid', 'credit', 'key', 'free', '402', '429', '4xx', '5xx']

/**
 * One aggregate of one minute: `route`, `country` and `user` rows count requests and the
 * amount charged (atomic units) per outcome; `latency` rows count requests per latency bin
 * (`outcome` is the bin's index) per route.
 */
export type MinuteRow = {
  /** Minutes since the epoch. */
  minute: number
  dim: 'route' | 'country' | 'user' | 'latency'
  key: string
  outcome: string
  requests: number
  amount: bigint
}

/**
 * Where the minute aggregates live. `add` adds counts to what is stored (several
 * processes sharing one store each add their own); `read` returns every row of the
 * minutes in [from, to).
 */
export type AnalyticsStore = {
  add(rows: readonly MinuteRow[]): Promise<void>
  read(fromMinute: number, toMinute: number): Promise<MinuteRow[]>
  /** Drops the minutes before `beforeMinute`. */
  prune(beforeMinute: number): Promise<void>
  close(): Promise<void>
}
