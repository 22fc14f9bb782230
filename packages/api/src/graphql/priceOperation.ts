import type {
  DocumentNode,
  FieldNode,
  FragmentDefinitionNode,
  GraphQLField,
  GraphQLNamedType,
  GraphQLObjectType,
  GraphQLSchema,
  OperationDefinitionNode,
  SelectionSetNode,
  ValueNode,
} from 'graphql'
import type { ResolvedPricing } from './resolvePricing.js'

/** What one operation costs, computed from its parsed document before it runs. */
export type OperationPrice = {
  /** Atomic units. */
  amount: bigint
  /** The response keys of the root fields that carry a price (what "fully errored" looks at). */
  pricedRoots: string[]
  kind: 'query' | 'mutation' | 'subscription'
  /**
   * Why the operation cannot be priced, when a multiplying argument of a priced field is not
   * a number ≥ 0 (negative, infinite, a string): it is refused before it runs
   * (`BAD_USER_INPUT`, `invalid_multiplier`), since a resolver may read such a value as
   * "everything" (`slice(0, -1)`, `LIMIT -1`).
   */
  invalid?: string
}

export type PriceOperationInput = {
  schema: GraphQLSchema
  document: DocumentNode
  operationName?: string | null | undefined
  variables?: Readonly<Record<string, unknown>> | null | undefined
  pricing: ResolvedPricing
}

// graphql's classes name themselves (`Symbol.toStringTag`): telling them apart this way keeps
// graphql out of this module's imports (402x-api loads without it).
const tagOf = (type: unknown) => (type as { [Symbol.toStringTag]?: string } | undefined)?.[Symbol.toStringTag]
const isObject = (type: unknown): type is GraphQLObjectType => tagOf(type) === 'GraphQLObjectType'
const isAbstract = (type: unknown) => {
  const tag = tagOf(type)
  return tag === 'GraphQLInterfaceType' || tag === 'GraphQLUnionType'
}
const namedOf = (type: unknown): GraphQLNamedType => {
  let t = type as { ofType?: unknown }
  while (t.ofType) t = t.ofType as { ofType?: unknown }
  return t as GraphQLNamedType
}

/**
 * The price of the operation a request runs: every priced field selected (through aliases,
 * fragments and inline fragments, each response key once, as GraphQL resolves it), times the
 * multiplying arguments above it; a field of an interface or union costs what its dearest
 * possible type charges. Introspection (`__schema`, `__type`, `__typename`) is free, and
 * fields left out by `@skip`/`@include` cost nothing. `undefined`: the operation is not in
 * the document (GraphQL answers that error itself).
 *
 * @example
 * priceOperation({ schema, document: parse('{ user(id: 1) { email } }'), pricing })
 * // { amount: 1500n, pricedRoots: ['user'], kind: 'query' }
 */
export function priceOperation(
  input: PriceOperationInput,
): (OperationPrice & { variables: readonly string[] }) | undefined {
  const { schema, document, operationName } = input
  let operation: OperationDefinitionNode | undefined
  const fragments = new Map<string, FragmentDefinitionNode>()
  for (const definition of document.definitions) {
    if (definition.kind === 'FragmentDefinition') fragments.set(definition.name.value, definition)
    else if (definition.kind === 'OperationDefinition') {
      if (operationName ? definition.name?.value === operationName : operation === undefined) operation = definition
      else if (!operationName) return undefined // several operations and no name: GraphQL refuses it
    }
  }
  if (!operation) return undefined
  const root =
    operation.operation === 'query'
      ? schema.getQueryType()
      : operation.operation === 'mutation'
        ? schema.getMutationType()
        : schema.getSubscriptionType()
  if (!root) return undefined
  const walk = new Walk(schema, fragments, operation, input.variables ?? {}, input.pricing)
  const pricedRoots: string[] = []
  const amount = walk.object(root, [operation.selectionSet], 1n, pricedRoots)
  const price = { amount, pricedRoots, kind: operation.operation, variables: walk.read }
  return walk.invalid === undefined ? price : { ...price, invalid: walk.invalid }
}

/** A variable the request does not give, with no default in the operation (GraphQL: the argument is left out). */
const absent = Symbol('absent')

class Walk {
  /** The variables the price read, in the order first read (what a cached price is keyed by). */
  readonly read: string[] = []
  /** The first multiplier of a priced field that is not a number ≥ 0 (see `OperationPrice.invalid`). */
  invalid: string | undefined
  /** Set by `multiplier` for the field being priced: what was wrong with its value. */
  private badMultiplier: string | undefined
  constructor(
    readonly schema: GraphQLSchema,
    readonly fragments: ReadonlyMap<string, FragmentDefinitionNode>,
    readonly operation: OperationDefinitionNode,
    readonly variables: Readonly<Record<string, unknown>>,
    readonly pricing: ResolvedPricing,
  ) {}

  /** The cost of selections under a field of type `type`, `scale` times. */
  named(type: GraphQLNamedType, sets: SelectionSetNode[], scale: bigint): bigint {
    if (isObject(type)) return this.object(type, sets, scale)
    if (!isAbstract(type)) return 0n
    let most = 0n
    for (const possible of this.schema.getPossibleTypes(type as Parameters<GraphQLSchema['getPossibleTypes']>[0])) {
      const cost = this.object(possible, sets, scale)
      if (cost > most) most = cost
    }
    return most
  }

  /** The cost of selections on one object type; `roots` collects the priced response keys. */
  object(type: GraphQLObjectType, sets: SelectionSetNode[], scale: bigint, roots?: string[]): bigint {
    let total = this.typePrice(type) * scale
    const fields = type.getFields()
    for (const [key, nodes] of this.collect(sets, type)) {
      const first = nodes[0] as FieldNode
      const name = first.name.value
      if (name.startsWith('__')) continue // introspection is free
      const def = fields[name]
      if (!def) continue
      const priced = this.fieldPrice(type, name)
      this.badMultiplier = undefined
      const inner = scale * this.multiplier(first, def, priced?.multipliers ?? this.pricing.multipliers)
      const bad = this.badMultiplier
      let cost = (priced?.amount ?? 0n) * inner
      const subs: SelectionSetNode[] = []
      for (const node of nodes) if (node.selectionSet) subs.push(node.selectionSet)
      if (subs.length > 0) cost += this.named(namedOf(def.type), subs, inner)
      // Only where it multiplies a price: a free field's arguments are the resolver's business.
      if (bad !== undefined && cost > 0n) this.invalid ??= `${type.name}.${name}: ${bad}`
      if (cost > 0n) roots?.push(key)
      total += cost
    }
    return total
  }

  /** The fields GraphQL resolves on `type`, by response key (graphql's `collectFields`). */
  collect(sets: SelectionSetNode[], type: GraphQLObjectType, out = new Map<string, FieldNode[]>(), seen = new Set()) {
    for (const set of sets) {
      for (const selection of set.selections) {
        if (!this.included(selection)) continue
        if (selection.kind === 'Field') {
          const key = selection.alias?.value ?? selection.name.value
          const list = out.get(key)
          if (list) list.push(selection)
          else out.set(key, [selection])
        } else if (selection.kind === 'InlineFragment') {
          if (this.applies(selection.typeCondition?.name.value, type))
            this.collect([selection.selectionSet], type, out, seen)
        } else {
          const name = selection.name.value
          if (seen.has(name)) continue
          seen.add(name)
          const fragment = this.fragments.get(name)
          if (fragment && this.applies(fragment.typeCondition.name.value, type))
            this.collect([fragment.selectionSet], type, out, seen)
        }
      }
    }
    return out
  }

  applies(condition: string | undefined, type: GraphQLObjectType): boolean {
    if (condition === undefined || condition === type.name) return true
    const conditionType = this.schema.getType(condition)
    return isAbstract(conditionType) && this.schema.isSubType(conditionType as never, type)
  }

  /** `@skip(if:)` and `@include(if:)`: a field left out is not resolved, so not charged. */
  included(node: { directives?: readonly { name: { value: string }; arguments?: readonly unknown[] }[] }): boolean {
    for (const directive of node.directives ?? []) {
      const name = directive.name.value
      if (name !== 'skip' && name !== 'include') continue
      const arg = (directive.arguments as FieldNode['arguments'])?.find((a) => a.name.value === 'if')
      const value = arg ? this.value(arg.value) : undefined
      if (name === 'skip' && value === true) return false
      if (name === 'include' && value === false) return false
    }
    return true
  }

  fieldPrice(type: GraphQLObjectType, name: string) {
    const own = this.pricing.fields.get(`${type.name}.${name}`)
    if (own) return own
    let dearest: ReturnType<ResolvedPricing['fields']['get']>
    for (const face of type.getInterfaces()) {
      const priced = this.pricing.fields.get(`${face.name}.${name}`)
      if (priced && (!dearest || priced.amount > dearest.amount)) dearest = priced
    }
    return dearest
  }

  typePrice(type: GraphQLObjectType): bigint {
    const own = this.pricing.types.get(type.name)
    if (own !== undefined) return own
    let dearest = 0n
    for (const face of type.getInterfaces()) {
      const priced = this.pricing.types.get(face.name) ?? 0n
      if (priced > dearest) dearest = priced
    }
    return dearest
  }

  /**
   * The largest multiplying argument, rounded up, and at least 1 (the field is resolved once
   * whatever it is asked for: `first: 0` read as "the default" by `first || 10` costs one).
   * An argument left out, given `null`, or given a variable the request leaves out takes the
   * argument's default in the schema (GraphQL's own rule for the last; a resolver given
   * `null` picks its own default, which the schema's should state). A value that is not a
   * number ≥ 0 sets `badMultiplier`.
   */
  multiplier(node: FieldNode, def: GraphQLField<unknown, unknown>, names: readonly string[]): bigint {
    let most = 1
    for (const name of names) {
      const arg = node.arguments?.find((a) => a.name.value === name)
      let value = arg ? this.value(arg.value) : absent
      if (value === absent || value === null) value = def.args.find((a) => a.name === name)?.defaultValue ?? absent
      if (value === absent || value === null || value === undefined) continue
      const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value
      if (typeof n !== 'number' || !Number.isFinite(n) || n < 0) {
        this.badMultiplier ??= `\`${name}\` is ${typeof value === 'string' ? JSON.stringify(value) : String(value)}, which does not say how many items to price: give a whole number ≥ 0`
        continue
      }
      if (n > most) most = n
    }
    return BigInt(Math.ceil(most))
  }

  /**
   * A literal or a variable's value (else its default in the operation, else `absent`); a
   * list, object or enum is `undefined`.
   */
  value(node: ValueNode): unknown {
    switch (node.kind) {
      case 'IntValue':
      case 'FloatValue':
        return Number(node.value)
      case 'BooleanValue':
      case 'StringValue':
        return node.value
      case 'NullValue':
        return null
      case 'Variable': {
        const name = node.name.value
        if (!this.read.includes(name)) this.read.push(name)
        if (Object.hasOwn(this.variables, name)) return this.variables[name]
        const declared = this.operation.variableDefinitions?.find((d) => d.variable.name.value === name)
        return declared?.defaultValue ? this.value(declared.defaultValue) : absent
      }
      default:
        return undefined
    }
  }
}
