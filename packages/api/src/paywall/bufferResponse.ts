import { handlerFailed } from './responses.js'

/**
 * Runs a Web-style handler for a paid request and reads its response in full (streams
 * included), so that nothing reaches the caller before the payment settles. A handler that
 * throws, or a body that fails midway, gives a 500 with nothing of the body: `finish` then
 * charges nothing.
 */
export async function bufferResponse(run: () => Response | Promise<Response>): Promise<Response> {
  let answer: Response
  try {
    answer = await run()
  } catch {
    return handlerFailed()
  }
  try {
    return new Response(answer.body ? await answer.arrayBuffer() : null, answer)
  } catch {
    return handlerFailed(500, true)
  }
}
