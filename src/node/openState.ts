// What a node reads from its data dir before it listens (after dropping the temp files a
// crash left) ("purge before serve"): the object
// store, the delete log and the floor, with every tombstone applied and what it covers purged;
// then the epochs it last reached and last fully recovered. What it finds wrong but can start
// without goes into `problems`, each naming its file.
import type { Logger } from 'pino'
import type { ObjectStore } from '../store/objectStore.js'
import type { DeleteLog } from '../tombstones/deleteLog.js'
import type { DeleteDriver } from './deletes.js'
import type { NodeMetrics } from './metrics.js'
import { EPOCH_FILE, RECOVERED_FILE, type EpochFile } from './epochFile.js'
import { FLOOR_FILE, type Floor } from '../tombstones/floor.js'
import { PEER_KEY_FILE } from '../net/peerKey.js'
import { removeTempFiles, TEMP_SUFFIX } from '../store/atomicFile.js'

/** never acknowledged, so safe to drop: what a crash mid-write left of the small files */
export async function removeCrashTemps (dataDir: string, log: Logger): Promise<void> {
  for (const f of [PEER_KEY_FILE, EPOCH_FILE, RECOVERED_FILE, FLOOR_FILE]) {
    const gone = await removeTempFiles(dataDir, `${f}${TEMP_SUFFIX}`)
    if (gone.length > 0) log.info({ files: gone }, 'removed temp files left by a crash')
  }
}

export interface DurableParts {
  store: ObjectStore
  deleteLog: DeleteLog
  floorFile: Floor
  deletes: DeleteDriver
  metrics: NodeMetrics
  epochFile: EpochFile
  recoveredFile: EpochFile
}

/** opens and loads the parts in order; resolves to the epoch to start from and the last fully recovered one */
export async function openDurableState (p: DurableParts, self: string, problems: string[], log: Logger): Promise<{ epoch: bigint, recoveredEpoch: bigint }> {
  await p.store.open()
  const { records, tornBytes, removedTemps } = await p.deleteLog.open()
  if (tornBytes > 0) log.warn({ tornBytes }, 'delete log had a torn tail (crash mid-append); truncated')
  if (removedTemps.length > 0) log.info({ files: removedTemps }, 'removed temp files of an interrupted delete log compaction')
  await p.floorFile.open(self)
  problems.push(...p.floorFile.problems)
  const purged = await p.deletes.load()
  p.metrics.deleteLogRecords.set(p.deleteLog.size)
  p.metrics.objects.set(p.store.cache.size)
  log.info({ records, purged, objects: p.store.cache.size, strays: p.store.strays }, 'store and delete log open')

  const recovered = await p.recoveredFile.read()
  const saved = await p.epochFile.read()
  // a lost epoch restarts from the last recovered one: peers' heartbeats lift it past theirs
  const epoch = saved.problem == null ? saved.epoch : recovered.epoch
  if (saved.problem != null) problems.push(`${saved.problem}; starting from epoch ${epoch}`)
  if (recovered.problem != null) problems.push(`${recovered.problem}; recovery will run as if none completed`)
  for (const m of problems) log.warn({ problem: m }, 'problem found at start')
  return { epoch, recoveredEpoch: recovered.epoch }
}
