import { X402Error } from '@402x/core'
import pino, { type Logger } from 'pino'
import type { LoggerOption } from './options.js'

/**
 * What 402x never writes to a log, whatever a line carries: credentials in any header or
 * field (Authorization, API keys, credit and admin tokens), payment headers and their
 * signatures. 402x's own lines carry none of them; these paths also guard what a seller's
 * logger adds (pino `redact`, censored as "[redacted]").
 */
export const redactedPaths = [
  'authorization',
  'token',
  'adminToken',
  'apiKey',
  'key',
  'signature',
  'payload',
  'paymentPayload',
  'headers.authorization',
  'headers.cookie',
  'headers["x-api-key"]',
  'headers["payment-signature"]',
  'headers["x-payment"]',
  'headers["x-402x-credit-token"]',
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'req.headers["payment-signature"]',
  'req.headers["x-payment"]',
  '*.authorization',
  '*.token',
  '*.adminToken',
  '*.apiKey',
  '*.signature',
  '*.payload',
]

const redact = { paths: redactedPaths, censor: '[redacted]' }

const isLogger = (value: unknown): value is Logger =>
  typeof value === 'object' &&
  value !== null &&
  typeof (value as Logger).child === 'function' &&
  typeof (value as Logger).info === 'function'

/**
 * The paywall's logger from the `logger` option: a child (`name: '402x'`) of the seller's
 * pino logger, a new one on stdout for `true` (level `X402_LOG_LEVEL`, else `info`), or
 * `undefined` (no logging) for `false` or nothing.
 *
 * @example
 * const logger = resolveLogger(options.logger, process.env)
 * logger?.info({ requestId }, 'request')
 */
export function resolveLogger(
  option: LoggerOption | undefined,
  env: Record<string, string | undefined>,
): Logger | undefined {
  if (option === undefined || option === false) return undefined
  if (option === true) return pino({ name: '402x', level: env.X402_LOG_LEVEL || 'info', redact })
  if (isLogger(option)) return option.child({ name: '402x' }, { redact })
  throw new X402Error('invalid_config', {
    message: 'logger must be a pino logger (pino()), true (JSON lines on stdout) or false: see docs/observability.md',
    details: { option: 'logger' },
  })
}

/** An error as a log line shows it: its code and message, never its details (which may hold a payload). */
export const errorFields = (error: unknown) => ({
  code: (error as { code?: string })?.code,
  err: (error as Error)?.message ?? String(error),
})
