import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { describe, expect, it } from 'vitest'

// No source module imports itself at run time, through any chain of value imports (type-only
// imports are erased by the compiler and cannot form a cycle at run time). A cycle makes the
// order modules run in depend on which one is imported first.

const root = resolve(import.meta.dirname, '../..')
const packages = ['core', 'devchain', 'facilitator', 'api', 'client', 'cli']

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return sources(path)
    return /\.tsx?$/.test(entry.name) && !/\.(test|d)\.tsx?$/.test(entry.name) ? [path] : []
  })
}

/** The relative modules a file imports or re-exports as values. */
function valueImports(text: string): string[] {
  const found: string[] = []
  const statement = /(?:^|\n)\s*(import|export)\s+(type\s+)?([^;'"]*?)\s*from\s*['"](\.[^'"]+)['"]/g
  for (const match of text.matchAll(statement)) {
    if (match[2]) continue
    const clause = (match[3] as string).trim()
    // `import { type A, type B } from` imports nothing at run time either.
    const braces = /^\{([^}]*)\}$/.exec(clause)
    if (braces) {
      const names = (braces[1] as string)
        .split(',')
        .map((n) => n.trim())
        .filter(Boolean)
      if (names.length > 0 && names.every((n) => n.startsWith('type '))) continue
    }
    found.push(match[4] as string)
  }
  for (const match of text.matchAll(/(?:^|\n)\s*import\s+['"](\.[^'"]+)['"]/g)) found.push(match[1] as string)
  return found
}

function graph(): Map<string, string[]> {
  const files = packages.flatMap((p) => sources(join(root, 'packages', p, 'src')))
  const known = new Set(files)
  const edges = new Map<string, string[]>()
  for (const file of files) {
    const targets = valueImports(readFileSync(file, 'utf8'))
      .map((spec) => resolve(dirname(file), spec).replace(/\.js$/, '.ts'))
      .map((path) => (known.has(path) ? path : path.replace(/\.ts$/, '.tsx')))
      .filter((path) => known.has(path))
    edges.set(file, targets)
  }
  return edges
}

function cycles(edges: Map<string, string[]>): string[][] {
  const found: string[][] = []
  const state = new Map<string, 'open' | 'done'>()
  const stack: string[] = []
  const visit = (node: string) => {
    state.set(node, 'open')
    stack.push(node)
    for (const next of edges.get(node) ?? []) {
      if (state.get(next) === 'open') found.push([...stack.slice(stack.indexOf(next)), next])
      else if (!state.has(next)) visit(next)
    }
    stack.pop()
    state.set(node, 'done')
  }
  for (const node of edges.keys()) if (!state.has(node)) visit(node)
  return found
}

describe('import cycles', () => {
  it('reads value imports and skips type-only ones', () => {
    const text = [
      "import { a, type B } from './a.js'",
      "import type { C } from './c.js'",
      "import { type D, type E } from './d.js'",
      "export { f } from './f.js'",
      "export type { G } from './g.js'",
      "import './side.js'",
      "import { h } from 'node:fs'",
    ].join('\n')
    expect(valueImports(text)).toEqual(['./a.js', './f.js', './side.js'])
  })

  it('finds a cycle when there is one', () => {
    const edges = new Map([
      ['a', ['b']],
      ['b', ['c']],
      ['c', ['a']],
      ['d', []],
    ])
    expect(cycles(edges)).toEqual([['a', 'b', 'c', 'a']])
  })

  it('no package source module imports itself at run time', () => {
    const edges = graph()
    expect(edges.size).toBeGreaterThan(300)
    const named = cycles(edges).map((cycle) => cycle.map((file) => relative(root, file)).join(' -> '))
    expect(named).toEqual([])
  })
})
