/** An execution result, as both servers give it. */
export type GraphQLResult = {
  data?: unknown
  errors?: readonly { message: string; path?: readonly (string | number)[] | undefined }[] | undefined
}

/**
 * Whether an operation failed entirely, and is charged nothing: no `data` (`null`, or none
 * because it never ran), or every root field that carries a price came back `null` with an
 * error at its path. Anything else was served, partial errors included, and is charged.
 *
 * @example
 * fullyErrored(['user'], { data: { user: null }, errors: [{ path: ['user'] }] }) // true
 */
export function fullyErrored(pricedRoots: readonly string[], result: GraphQLResult): boolean {
  const data = result.data as Record<string, unknown> | null | undefined
  if (data === null || data === undefined) return true
  const errors = result.errors
  if (!errors?.length || pricedRoots.length === 0) return false
  return pricedRoots.every((key) => data[key] == null && errors.some((error) => error.path?.[0] === key))
}
