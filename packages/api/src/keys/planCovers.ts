import { compileRoute, matchRoute, normalizePath, type RoutePattern } from '../paywall/routes.js'
import type { PlanDefinition } from './types.js'

/** Compiled patterns, by source: a plan's few patterns are compiled once per process. */
const compiled = new Map<string, RoutePattern>()
const compile = (source: string) => {
  let pattern = compiled.get(source)
  if (!pattern) {
    if (compiled.size >= 10_000) compiled.clear()
    pattern = compileRoute(source)
    compiled.set(source, pattern)
  }
  return pattern
}

/**
 * Whether a plan covers a request, matched as the price table matches routes (the same
 * `compileRoute`/`matchRoute`: case-insensitive, `:param` segments, a trailing `*`, `GET`
 * covering `HEAD`). A path that cannot be decoded is covered by no plan but `'all'`.
 *
 * @example
 * planCovers({ ...plans.free(), routes: ['GET /api/*'] }, 'GET', '/api/quote') // true
 */
export function planCovers(plan: PlanDefinition, method: string, path: string): boolean {
  if (plan.routes === 'all') return true
  const normalised = normalizePath(path)
  if (normalised === undefined) return false
  const upper = method.toUpperCase()
  return plan.routes.some((source) => matchRoute(compile(source), upper, normalised))
}
