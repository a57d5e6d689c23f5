// Compact sets of ids, the public entry point: IndexSet (uint32 indexes of one bucket,
// src/idset/indexSet.ts, its chunks in src/idset/chunk.ts) and OidSet (uint64 oids bucketed by
// high word, src/idset/oidSet.ts). Callers import from here; the split is internal.

export { IndexSet } from './idset/indexSet.js'
export { OidSet } from './idset/oidSet.js'
