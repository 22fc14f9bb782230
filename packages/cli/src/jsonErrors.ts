import type { X402Error } from '@402x/core'

/**
 * Runs a command; with `--json` among its arguments, a failure is also one line of JSON on
 * stdout (`{ error, message }`), the message goes to stderr, and the exit code is 1.
 * Without `--json` the error is thrown on to the CLI's own handler.
 */
export async function withJsonErrors(name: string, args: string[], run: () => Promise<number>): Promise<number> {
  const json = args.includes('--json')
  try {
    return await run()
  } catch (error) {
    if (!json) throw error
    const message = error instanceof Error ? error.message : String(error)
    const code = (error as X402Error).details?.error ?? (error as X402Error).code ?? 'invalid_request'
    process.stdout.write(`${JSON.stringify({ error: code, message })}\n`)
    process.stderr.write(`402x ${name}: ${message}\n`)
    return 1
  }
}
