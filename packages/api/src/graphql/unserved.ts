/**
 * The answer a held payment is finished with when nothing was served (a 500, so the paywall
 * releases it and charges nothing), with the reason code its `request` event and log line
 * carry: `operation_failed` (it errored entirely), `execution_failed` (its execution threw or
 * a plugin stopped it), `batch_failed` (the server answered its batch with an error).
 *
 * @example
 * await decision.finish(unserved('execution_failed')) // released; logged with reason execution_failed
 */
export function unserved(reason: string): Response {
  return new Response(JSON.stringify({ reason }), { status: 500, headers: { 'content-type': 'application/json' } })
}
