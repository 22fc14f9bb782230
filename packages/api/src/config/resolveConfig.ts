import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { type DevState, findNetwork, readDevState, unknownKey, X402Error } from '@402x/core'
import { z } from 'zod'

/** `402x.config.json`: only these keys (and `$schema`), each a string (`webhooks` a list). */
export const ConfigFileSchema = z.strictObject({
  $schema: z.string().optional(),
  payTo: z.string().optional(),
  network: z.string().optional(),
  asset: z.string().optional(),
  facilitatorUrl: z.string().optional(),
  databaseUrl: z.string().optional(),
  redisUrl: z.string().optional(),
  publicUrl: z.string().optional(),
  /** Webhooks (docs/webhooks.md): each secret read from the environment variable `secretEnv` names. */
  webhooks: z
    .array(z.strictObject({ url: z.string(), events: z.array(z.string()).min(1), secretEnv: z.string().min(1) }))
    .optional(),
})
export type ConfigFile = z.infer<typeof ConfigFileSchema>

export type ConfigSources = {
  env: Record<string, string | undefined>
  file?: ConfigFile
  dev?: DevState
}

/** Reads `402x.config.json` from the working directory, if there is one. */
export function readConfigFile(cwd = process.cwd()): ConfigFile | undefined {
  const path = join(cwd, '402x.config.json')
  if (!existsSync(path)) return undefined
  let json: unknown
  try {
    json = JSON.parse(readFileSync(path, 'utf8'))
  } catch (cause) {
    throw new X402Error('invalid_config', { message: `${path} is not valid JSON: fix or remove it`, cause })
  }
  const parsed = ConfigFileSchema.safeParse(json)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    const known = Object.keys(ConfigFileSchema.shape)
    const message =
      issue?.path[0] === 'webhooks'
        ? `${path}: "${issue.path.join('.')}" is wrong (${issue.message}): "webhooks": [{ "url": "https://…", "events": ["payment.settled"], "secretEnv": "X402_WEBHOOK_SECRET" }]`
        : issue?.code === 'unrecognized_keys'
          ? unknownKey(String(issue.keys[0]), String(issue.keys[0]), known, path)
          : issue?.path.length
            ? `${path}: "${issue.path.join('.')}" must be a string (${issue.message}): e.g. "payTo": "0x…"`
            : `${path} must hold a JSON object: { "payTo": "0x…", "network": "eip155:8453" }`
    throw new X402Error('invalid_config', { message, details: { file: path, option: issue?.path.join('.') } })
  }
  return parsed.data
}

/** The sources, read once: the environment, `402x.config.json` and a running `402x dev`. */
export function loadConfigSources(cwd = process.cwd()): ConfigSources {
  const file = readConfigFile(cwd)
  const dev = readDevState(cwd)
  return { env: process.env, ...(file ? { file } : {}), ...(dev ? { dev } : {}) }
}

export type SettingSpec = {
  /** Option name in code. */
  option: string
  env: string
  /** Absent for a secret, which belongs in the environment, never in a file checked in. */
  file?: keyof ConfigFile
  dev?: keyof DevState
}

/**
 * Takes a setting from the first place that gives it: the code's option, the environment,
 * `402x.config.json`, then a running `402x dev`.
 */
export function pickSetting(
  spec: SettingSpec,
  fromOptions: string | undefined,
  sources: ConfigSources,
): { value: string; from: string } | undefined {
  if (fromOptions !== undefined) return { value: fromOptions, from: `option \`${spec.option}\`` }
  const env = sources.env[spec.env]
  if (env) return { value: env, from: spec.env }
  const file = spec.file ? sources.file?.[spec.file] : undefined
  if (typeof file === 'string') return { value: file, from: `402x.config.json "${spec.file}"` }
  const dev = spec.dev ? sources.dev?.[spec.dev] : undefined
  if (typeof dev === 'string') return { value: dev, from: 'the running `402x dev`' }
  return undefined
}

/** The error for a missing setting: names it and shows every way to set it. */
export function missingSetting(spec: SettingSpec, example: string, where: string): X402Error {
  return new X402Error('invalid_config', {
    message: `${spec.env} is not set: pass \`${spec.option}\` to ${where}, set ${spec.env}=${example}, ${spec.file ? `add "${spec.file}" to 402x.config.json, ` : ''}or run \`402x dev\` for a local setup.`,
    details: { setting: spec.option },
  })
}

export const settings = {
  payTo: { option: 'payTo', env: 'X402_PAY_TO', file: 'payTo', dev: 'payTo' },
  network: { option: 'network', env: 'X402_NETWORK', file: 'network', dev: 'network' },
  asset: { option: 'asset', env: 'X402_ASSET', file: 'asset', dev: 'asset' },
  facilitator: { option: 'facilitator', env: 'X402_FACILITATOR_URL', file: 'facilitatorUrl', dev: 'facilitatorUrl' },
  database: { option: 'ledger', env: 'X402_DATABASE_URL', file: 'databaseUrl' },
  publicUrl: { option: 'publicUrl', env: 'X402_PUBLIC_URL', file: 'publicUrl' },
  adminToken: { option: 'adminToken', env: 'X402_ADMIN_TOKEN' },
} as const satisfies Record<string, SettingSpec>

/** Whether a string is a 0x address. */
export const isAddress = (value: string) => /^0x[0-9a-fA-F]{40}$/.test(value)

/** Checks a network is known, with a message that lists the known ones. */
export function checkNetwork(value: string, from: string): string {
  const network = findNetwork(value)
  if (!network) {
    throw new X402Error('invalid_config', {
      message: `network "${value}" (from ${from}) is not known: use eip155:8453 (Base), eip155:84532 (Base Sepolia) or eip155:31337 (local)`,
    })
  }
  return network.id
}
