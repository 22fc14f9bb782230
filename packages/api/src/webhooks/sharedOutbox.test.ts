import { afterAll, describe, it } from 'vitest'
import { rolloutScenario, sharedLedgerScenario } from './sharedOutbox.fixture.js'
import { webhookPaywalls } from './webhookPaywalls.fixture.js'

// Paywalls with different webhooks in code on one SQLite ledger file: the outbox is theirs
// together, so every webhook gets every event, whichever worker fans it out.
const paywalls = webhookPaywalls()
afterAll(() => paywalls.close())

describe('paywalls sharing one SQLite ledger, each with its own webhooks', () => {
  it('a webhook in the code of one paywall gets the events the other paywall fanned out', async () => {
    await sharedLedgerScenario((options) => paywalls.make({ ledger: `${paywalls.dir}/shared.db`, ...options }))
  }, 60_000)

  it('during a rollout, events for a webhook only a stopped paywall had wait for the next one that has it', async () => {
    await rolloutScenario((options) => paywalls.make({ ledger: `${paywalls.dir}/rollout.db`, ...options }))
  }, 60_000)
})
