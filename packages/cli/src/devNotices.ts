import { X402Error } from '@402x/core'

/** One service of `402x dev` that was asked for a port and got another (the first was busy). */
export type MovedPort = { what: string; asked: number; got: number }

/**
 * The lines that say loudly which services moved to another port: the README's commands
 * use the default ports, and a user who copies them must know to use the printed URLs.
 */
export function movedPortLines(moved: MovedPort[]): string[] {
  return moved.map(
    (m) =>
      `port ${m.asked} was busy: the ${m.what} runs on port ${m.got} instead. Use the URLs printed below, not ${m.asked} (or free the port: see docs, "Troubleshooting")`,
  )
}

/** The fault `402x dev` stops with when its chain dies under it. */
export function chainDied(rpcUrl: string, exit: { code: number | null; signal: string | null }): X402Error {
  return new X402Error('chain_unavailable', {
    message: `the local chain (anvil at ${rpcUrl}) stopped by itself (${exit.signal ? `signal ${exit.signal}` : `exit code ${exit.code}`}): stopped the facilitator and the demo API too, since nothing can be paid without it. Start \`402x dev\` again (its chain starts empty: USDC is deployed afresh)`,
    details: { rpcUrl, ...exit },
  })
}
