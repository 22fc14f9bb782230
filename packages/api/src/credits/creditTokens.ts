import { isUniqueViolation } from '../ledger/openSqlite.js'
import type { creditQueries } from './creditQueries.js'
import { checkText, invalid } from './creditRows.js'
import { hashToken, tokenPrefix } from './tokens.js'
import type { CreditLedger } from './types.js'

/**
 * The credit ledger's tokens: only a token's sha256 is stored, linked to one account. `guard`
 * runs each call as the ledger's other calls (a promise; a store fault as `store_unavailable`).
 */
export function creditTokens(
  q: ReturnType<typeof creditQueries>,
  guard: <T>(fn: () => T) => Promise<T>,
  clock: () => number,
): Pick<CreditLedger, 'linkToken' | 'revokeToken' | 'revokeTokensOf' | 'accountForToken'> {
  return {
    linkToken: (hash, account) =>
      guard(() => {
        if (typeof hash !== 'string' || !/^[0-9a-f]{64}$/.test(hash))
          throw invalid('linkToken takes the `hash` from issueToken() (64 hex characters), never the token itself')
        checkText(account, 'account')
        try {
          q.insertToken.run({ hash, account, now: clock() })
        } catch (error) {
          if (!isUniqueViolation(error)) throw error
          const linked = (q.token.get(hash) as { account: string } | undefined)?.account
          if (linked !== account)
            throw invalid('this token is already linked to another account: issue a new token with issueToken()')
        }
      }),
    revokeToken: (token) =>
      guard(() => {
        if (typeof token !== 'string' || !token.startsWith(tokenPrefix)) return false
        return Number(q.deleteToken.run({ hash: hashToken(token) }).changes) === 1
      }),
    revokeTokensOf: (account) =>
      guard(() => {
        checkText(account, 'account')
        return Number(q.deleteTokensOf.run(account).changes)
      }),
    accountForToken: (token) =>
      guard(() => {
        if (typeof token !== 'string' || !token.startsWith(tokenPrefix)) return undefined
        return (q.token.get(hashToken(token)) as { account: string } | undefined)?.account
      }),
  }
}
