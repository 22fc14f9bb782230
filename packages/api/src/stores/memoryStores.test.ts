import { countersContract } from './counters.contract.js'
import { createMemoryCounters } from './createMemoryCounters.js'
import { createMemoryLocks } from './createMemoryLocks.js'
import { createMemorySpentProofs } from './createMemorySpentProofs.js'
import { locksContract } from './locks.contract.js'
import { spentProofsContract } from './spentProofs.contract.js'

// One process: both handles are the same object.
const same = <T>(store: T) => ({ a: store, b: store, close: async () => {} })

locksContract('memory', () => same(createMemoryLocks()))
spentProofsContract('memory', () => same(createMemorySpentProofs()))
countersContract('memory', () => same(createMemoryCounters()))
