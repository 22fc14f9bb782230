// The one method of `negotiator` (a dependency with no types of its own) that acceptable.ts uses.
declare module 'negotiator' {
  export default class Negotiator {
    constructor(request: { headers: Record<string, string | undefined> })
    mediaType(available?: string[]): string | undefined
  }
}
