/** Terminal output: progress lines on stderr, so stdout stays for results and --json. */
export function createUi(options: { json: boolean; quiet?: boolean }) {
  const color = process.stderr.isTTY && !process.env.NO_COLOR
  const paint = (code: number, text: string) => (color ? `\u001b[${code}m${text}\u001b[0m` : text)
  return {
    step(text: string) {
      if (!options.json && !options.quiet) process.stderr.write(`${paint(36, '›')} ${text}\n`)
    },
    done(text: string) {
      if (!options.json && !options.quiet) process.stderr.write(`${paint(32, '✓')} ${text}\n`)
    },
    info(text: string) {
      if (!options.json && !options.quiet) process.stderr.write(`${text}\n`)
    },
    /** A warning or failure: always shown, `--json` too (it goes to stderr). */
    warn(text: string) {
      process.stderr.write(`${paint(33, '!')} ${paint(1, text)}\n`)
    },
    bold: (text: string) => paint(1, text),
    dim: (text: string) => paint(2, text),
  }
}

export type Ui = ReturnType<typeof createUi>
