import type { PaymentRequired } from '@402x/core'
import { creditsExtensionKey } from '../paywall/credits.js'
import { metaKeys, toolResourceUrl } from './metaKeys.js'

/**
 * A paid tool's challenge with its top-up offer made MCP's: `extensions['402x-credits']`
 * (as REST's 402 has it) names the tool that sells credit (`tool`, and `topUp` as its
 * resource URL, `mcp://tool/<name>`) instead of the HTTP `/__402x/credits`, with its
 * `minTopUp`, `maxTopUp`, `suggested` and, for a token that fell short, its `balance`.
 *
 * @example
 * offerCreditTool(required, 'buy_credit').extensions['402x-credits'].info
 * // { tool: 'buy_credit', topUp: 'mcp://tool/buy_credit', minTopUp: '0.01', maxTopUp: '1000', suggested: '1' }
 */
export function offerCreditTool(required: PaymentRequired, tool: string): PaymentRequired {
  const offer = required.extensions?.[creditsExtensionKey] as { info: Record<string, unknown> } | undefined
  if (!offer) return required
  const { topUp: _http, ...info } = offer.info
  return {
    ...required,
    extensions: {
      ...required.extensions,
      [creditsExtensionKey]: {
        info: { tool, topUp: toolResourceUrl(tool), ...info },
        schema: {
          $schema: 'https://json-schema.org/draft/2020-12/schema',
          type: 'object',
          properties: {
            tool: {
              type: 'string',
              description: `The MCP tool that sells credit: call it with { amount } (dollars), paid in _meta['${metaKeys.payment}'], and send the token it returns in _meta['${metaKeys.credit}']`,
            },
            topUp: { type: 'string', description: "The credit tool's resource URL (mcp://tool/<name>)" },
            minTopUp: { type: 'string' },
            maxTopUp: { type: 'string' },
            suggested: { type: 'string' },
            balance: { type: 'string', description: "The presented token's available credit, in dollars" },
          },
          required: ['tool', 'topUp', 'minTopUp', 'maxTopUp'],
        },
      },
    },
  }
}

/** What to do next, in words, when the challenge offers the credit tool. */
export function creditHint(tool: string, reason: string, body: { price?: unknown; credits?: unknown }): string {
  const balance = (body.credits as { balance?: unknown } | undefined)?.balance
  if (reason === 'insufficient_credit' && typeof body.price === 'string' && typeof balance === 'string') {
    return `this call costs $${body.price} and the credit left is $${balance}: buy more with the tool ${tool} (with this token in _meta['${metaKeys.credit}'] to top up its account), or pay this call with _meta['${metaKeys.payment}']`
  }
  return `send an x402 payment for one of \`accepts\` in _meta['${metaKeys.payment}'], or buy credit with the tool ${tool} and send its token in _meta['${metaKeys.credit}']`
}
