/**
 * One CSV field (RFC 4180): quoted when it holds a comma, a quote or a line break. A text
 * that a spreadsheet would run as a formula (it starts with `=`, `+`, `-`, `@`, a tab or a
 * carriage return) is prefixed with `'` (OWASP's advice); a plain number (`-0.02`) is left as it is.
 *
 * @example
 * csvField('=HYPERLINK("x")') // "'=HYPERLINK(""x"")"
 */
export function csvField(value: string | number | undefined | null): string {
  let text = value === undefined || value === null ? '' : String(value)
  if (/^[=+\-@\t\r]/.test(text) && !/^[-+]?\d+(\.\d+)?$/.test(text)) text = `'${text}`
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text
}
