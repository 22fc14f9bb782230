import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'
import { describe, expect, it } from 'vitest'

// The README and docs/ are read by users: their samples must compile against the packages'
// own types, their `402x` commands must exist, and their relative links must resolve.
const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
const pages = [
  'README.md',
  ...readdirSync(join(root, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`),
]

type Block = { page: string; line: number; lang: string; code: string }

function blocksOf(page: string): Block[] {
  const lines = readFileSync(join(root, page), 'utf8').split('\n')
  const blocks: Block[] = []
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\w*)\s*$/.exec(lines[i] ?? '')
    if (!open) continue
    const start = i
    const body: string[] = []
    for (i++; i < lines.length && !/^```\s*$/.test(lines[i] ?? ''); i++) body.push(lines[i] ?? '')
    blocks.push({ page, line: start + 1, lang: open[1] ?? '', code: body.join('\n') })
  }
  return blocks
}

const blocks = pages.flatMap(blocksOf)

// What the samples take as given: the seller's own functions, an Express \`app\`, and
// \`x402Middleware\` where a page imported it in an earlier sample.
const ambient = `
declare const x402Middleware: typeof import('402x-api').x402Middleware
type StatusOutcome = import('../../packages/api/src/paywall/types.js').StatusOutcome
type StreamMeter = import('../../packages/api/src/paywall/streamMeter.js').StreamMeter
declare const app: import('express').Express
declare function yourAIModel(prompt: string): Promise<string>
declare function translate(text: string, lang: string): Promise<string>
declare function getMarketData(symbol: string): Promise<unknown>
declare function estimateComputeCost(req: unknown): number
declare function generate(input: unknown): Promise<unknown>
declare function isValidKey(key: string): boolean
declare function save(origin: string, token: string): void
declare const k: string
declare const model: { complete(prompt: string): Promise<{ text: string; tokenCount: number }> }
declare const analytics: { track(name: string, data: unknown): void }
declare const myOpenApiDocument: Record<string, unknown>
declare const paywall: import('402x-api').X402Middleware
declare const info: import('402x-api').KeyInfo
`

describe('docs samples', () => {
  it('every JavaScript and TypeScript sample type-checks against the packages', () => {
    const samples = blocks.filter((b) => ['js', 'ts'].includes(b.lang))
    expect(samples.length).toBeGreaterThan(20)
    const files = new Map<string, string>()
    const origin = new Map<string, Block>()
    samples.forEach((block, n) => {
      const file = join(root, 'test/docs/__samples__', `sample${n}.ts`)
      files.set(file, `${block.code}\nexport {}\n`)
      origin.set(file, block)
    })
    const ambientFile = join(root, 'test/docs/__samples__/ambient.d.ts')
    files.set(ambientFile, ambient)
    const config = ts.getParsedCommandLineOfConfigFile(
      join(root, 'tsconfig.json'),
      {},
      {
        ...ts.sys,
        onUnRecoverableConfigFileDiagnostic: () => {},
      },
    )
    if (!config) throw new Error('tsconfig.json did not parse')
    // The samples are JavaScript as users write it: no annotations, so no implicit-any or
    // null checks; everything else (names, option shapes, call signatures) is checked.
    const options: ts.CompilerOptions = {
      ...config.options,
      strict: false,
      noImplicitAny: false,
      strictNullChecks: false,
      exactOptionalPropertyTypes: false,
      noUncheckedIndexedAccess: false,
      noImplicitReturns: false,
      noUnusedLocals: false,
      verbatimModuleSyntax: false,
      isolatedModules: false,
      lib: ['lib.es2023.d.ts', 'lib.dom.d.ts'],
      noEmit: true,
    }
    const host = ts.createCompilerHost(options)
    const getSourceFile = host.getSourceFile.bind(host)
    host.getSourceFile = (name, version, onError, create) => {
      const text = files.get(resolve(name))
      return text !== undefined
        ? ts.createSourceFile(name, text, version)
        : getSourceFile(name, version, onError, create)
    }
    const fileExists = host.fileExists.bind(host)
    host.fileExists = (name) => files.has(resolve(name)) || fileExists(name)
    const readFile = host.readFile.bind(host)
    host.readFile = (name) => files.get(resolve(name)) ?? readFile(name)
    const program = ts.createProgram([...files.keys()], options, host)
    const problems = ts
      .getPreEmitDiagnostics(program)
      .filter((d) => d.file && files.has(resolve(d.file.fileName)))
      .map((d) => {
        const file = d.file!
        const block = origin.get(resolve(file.fileName))
        const { line } = file.getLineAndCharacterOfPosition(d.start ?? 0)
        const where = block ? `${block.page}:${block.line + 1 + line}` : relative(root, file.fileName)
        return `${where}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`
      })
    expect(problems).toEqual([])
  }, 120_000)

  it('every JSON sample parses', () => {
    for (const block of blocks.filter((b) => b.lang === 'json')) {
      expect(() => JSON.parse(block.code), `${block.page}:${block.line}`).not.toThrow()
    }
  })

  it("every `402x` command in a shell sample is one the CLI's usage lists, with its flags", () => {
    const usage =
      readFileSync(join(root, 'packages/cli/src/bin.ts'), 'utf8') +
      readFileSync(join(root, 'packages/cli/src/commands/credits.ts'), 'utf8') +
      readFileSync(join(root, 'packages/cli/src/commands/keys.ts'), 'utf8') +
      readFileSync(join(root, 'packages/cli/src/commands/migrate.ts'), 'utf8') +
      readFileSync(join(root, 'packages/cli/src/commands/gateway.ts'), 'utf8') +
      readFileSync(join(root, 'packages/cli/src/commands/proxy.ts'), 'utf8') +
      readFileSync(join(root, 'packages/cli/src/commands/mcp.ts'), 'utf8') +
      readFileSync(join(root, 'packages/cli/src/commands/payments.ts'), 'utf8') +
      readFileSync(join(root, 'packages/cli/src/commands/stats.ts'), 'utf8') +
      readFileSync(join(root, 'packages/cli/src/commands/webhooks.ts'), 'utf8')
    const commands = blocks
      .filter((b) => b.lang === 'sh')
      .flatMap((b) => b.code.split('\n').map((text) => ({ b, text: text.replace(/#.*$/, '') })))
      .map(({ b, text }) => ({
        b,
        match: /(?:^|\s)(?:npx )?402x (\w+)(?: (grant|balance|create|list|revoke|usage))?(.*)$/.exec(text),
      }))
      .filter((c) => c.match)
    expect(commands.length).toBeGreaterThan(5)
    for (const { b, match } of commands) {
      const [, command, sub, rest] = match!
      const usageLine = `402x ${command}${sub ? ` ${sub}` : ''}`
      expect(usage, `${b.page}:${b.line}: ${usageLine}`).toContain(usageLine)
      for (const flag of (rest ?? '').match(/(?<=\s)--[a-z-]+/g) ?? []) {
        // An optional flag (`[--ref`), or one the usage line requires (`--plan free`).
        const listed =
          usage.includes(`[${flag}`) || usage.includes(`${usageLine} ${flag} `) || usage.includes(` ${flag} `)
        expect(listed, `${b.page}:${b.line}: ${usageLine} ${flag}`).toBe(true)
      }
    }
  })
})

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
function anchorOf(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-')
}

function anchorsOf(path: string): Set<string> {
  const text = readFileSync(path, 'utf8').replace(/^```[\s\S]*?^```/gm, '')
  const seen = new Map<string, number>()
  const anchors = new Set<string>()
  for (const [, heading] of text.matchAll(/^#{1,6} (.+)$/gm)) {
    const base = anchorOf(heading ?? '')
    const n = seen.get(base) ?? 0
    seen.set(base, n + 1)
    anchors.add(n === 0 ? base : `${base}-${n}`)
  }
  return anchors
}

describe('docs links', () => {
  it('every relative link and anchor in the README and docs/ resolves', () => {
    const broken: string[] = []
    let checked = 0
    for (const page of pages) {
      const text = readFileSync(join(root, page), 'utf8').replace(/^```[\s\S]*?^```/gm, '')
      for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (!target || /^[a-z]+:/i.test(target)) continue
        checked++
        const [path, anchor] = target.split('#') as [string, string | undefined]
        const file = path ? resolve(dirname(join(root, page)), path) : join(root, page)
        if (!existsSync(file)) {
          broken.push(`${page}: ${target} (no such file)`)
          continue
        }
        if (anchor && !anchorsOf(file).has(anchor)) broken.push(`${page}: ${target} (no such heading)`)
      }
    }
    expect(checked).toBeGreaterThan(50)
    expect(broken).toEqual([])
  })
})
