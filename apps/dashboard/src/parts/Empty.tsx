import type { ComponentChildren } from 'preact'

/** An empty state: what is missing, and the command or step that fills it. */
export function Empty(props: { children: ComponentChildren; command?: string }) {
  return (
    <div class="empty" data-testid="empty">
      <p>{props.children}</p>
      {props.command && <code class="command">{props.command}</code>}
    </div>
  )
}

/** A command a caller runs against this API, with its origin. */
export const payCommand = (path = '/') => `npx 402x pay ${location.origin}${path}`
