import type { KeyedHandler } from './adminContext.js'
import { AdminInputError, adminJson } from './adminHttp.js'

/** `GET /plans`: the code's plans, then those put at run time. */
export const listPlans: KeyedHandler = async ({ keys }) => adminJson(200, { plans: await keys.plans() })

/**
 * `PUT /plans/:name`: puts a plan at run time, checked with `checkPlan` (400 with its
 * message). The body's `name` may be left out; given, it must be the path's.
 */
export const putPlan: KeyedHandler = async ({ keys, params, body }) => {
  const name = params[0] as string
  const given = await body()
  if (given.name !== undefined && given.name !== name) {
    throw new AdminInputError(
      `the body names the plan ${JSON.stringify(given.name)} but the path says "${name}": make them agree`,
    )
  }
  const plan = { ...given, name }
  await keys.putPlan(plan as never)
  const put = (await keys.plans()).find((p) => p.name === name)
  return adminJson(200, { plan: put })
}
