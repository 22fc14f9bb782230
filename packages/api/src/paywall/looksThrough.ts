/**
 * Marks a middleware that never answers a request some route serves by itself (a 402x
 * paywall: it prices a route, or passes it on). A framework's router, read to tell whether
 * anything serves a request, looks through a layer so marked.
 */
export const looksThrough = Symbol.for('402x.looksThrough')
