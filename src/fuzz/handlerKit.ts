// What the handler fuzz targets share: the fake peers, temp dirs, replayed message sequences,
// and the fingerprint of delete-side state that a rejected input must leave unchanged, plus
// the node's delete parts built over a temp dir the way the node builds them.
import fc from 'fast-check'
import { mkdir, mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { existsSync } from 'node:fs'
import { DeleteLog } from '../tombstones/deleteLog.js'
import { TombstoneIndex } from '../tombstones/tombstoneIndex.js'
import { Floor } from '../tombstones/floor.js'
import { ObjectStore } from '../store/objectStore.js'
import { DeleteDriver } from '../node/deletes.js'
import { DeleteReplica } from '../tombstones/replica.js'
import type { FloorState } from '../tombstones/floor.js'
import { NodeMetrics } from '../node/metrics.js'
import { ReconSet } from '../antientropy/reconSet.js'
import { vidToDataOid } from '../oid.js'
import { big } from './target.js'
import { quietLogger } from './fakes.js'

export const SELF = 'self-peer'
export const PEERS = ['node-a', 'node-b', SELF]
/** real peer ids: the members topic parses them (a signer's id always is one) */
export const PEER_IDS = ['12D3KooWNgMSepRFYkK9v9EkRQe18yN6nSLU6DAn51hEbxhArF8U', '12D3KooWGRJSuTB2Bz4jSkdnJQpjiSpgxCEUZ1EFdXmdPuzEbWhC', '12D3KooWDohnm2Yr8ELCHMtfWTsSZdsPKJw8jbbd5KjmSzaqFgiF']

export async function tempDir (tag: string): Promise<string> {
  // tmpfs when there is one: handlers write files on every accepted input
  return await mkdtemp(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), `bw-fuzz-${tag}-`))
}

/** sequences of 1..n messages, then replays of some of them */
export function withReplays<T> (one: fc.Arbitrary<T>, n: number): fc.Arbitrary<T[]> {
  return fc.tuple(fc.array(one, { minLength: 1, maxLength: n }), fc.array(fc.nat(), { maxLength: 2 }))
    .map(([xs, re]) => [...xs, ...re.map((k) => xs[k % xs.length]!)])
}

/** the delete-side state a rejected input must not touch */
export interface DeleteParts { log: DeleteLog, index: TombstoneIndex, store: ObjectStore, set?: ReconSet, floor?: () => Readonly<FloorState> }
export function deleteState (p: DeleteParts): string {
  const s = p.log.summary()
  const vids = p.index.vids().map((v) => [v, p.index.deletedGeneration(v), p.index.discardsOf(v).length])
  const set = p.set == null ? '' : `${p.set.size}/${p.set.fingerprint(0, p.set.size).sum}`
  const f = p.floor?.()
  const floor = f == null ? '' : `${f.hash()}/${f.horizon}/${f.size}`
  return JSON.stringify({ log: s, applied: p.index.recordCount, vids, objects: p.store.cache.size, set, floor }, big)
}

/**
 * The node's trust checks for deletes from peers (src/node/admission.ts), built over these
 * parts the way BellwetherNode.start() builds them, when this tree has them (they land with
 * issue 11 parts 2-3); undefined before. Loaded by a computed path so this file compiles
 * with or without them.
 */
export async function admissionFor (p: { log: DeleteLog, floor: { get: (vid: number) => number | undefined, seq: (origin: string) => bigint }, index: TombstoneIndex, store: ObjectStore }): Promise<any> {
  const load = async (m: string): Promise<any> => await import(m).catch(() => undefined)
  const adm = await load(['..', 'node', 'admission.js'].join('/'))
  const st = await load(['..', 'node', 'admissionState.js'].join('/'))
  if (adm?.RecordAdmission == null || st?.nodeAdmissionState == null) return undefined
  return new adm.RecordAdmission(st.nodeAdmissionState({ self: SELF, members: () => PEERS, connected: () => false, ...p }))
}

export async function seedObjects (store: ObjectStore): Promise<void> {
  for (let vid = 1; vid <= 4; vid++) {
    for (let i = 0; i < 3; i++) await store.put(vidToDataOid(vid, i), new Uint8Array([vid, i]), { generation: 1, version: 1000n + BigInt(i) })
  }
}

/** handler targets build fresh parts per input under root, so a failing input replays alone */
export interface Root { root: string, n: number }

/** the node's delete machinery (replica + driver, src/node/deletes.ts) over these parts, as BellwetherNode builds it */
export async function deleteDriver (dir: string, dlog: DeleteLog, store: ObjectStore, metrics: NodeMetrics, log: ReturnType<typeof quietLogger>): Promise<{ driver: DeleteDriver, replica: DeleteReplica }> {
  const floorFile = new Floor(join(dir, 'floor.json'), { fsync: false })
  await floorFile.open(SELF)
  const replica = new DeleteReplica({ self: SELF, log: dlog, members: () => PEERS })
  const driver = new DeleteDriver({ replica, log: dlog, store, floorFile, metrics, logger: log, out: { publish: () => {}, startSession: () => {}, reject: () => {}, syncNow: async () => undefined } })
  await driver.load()
  return { driver, replica }
}

/** the node's delete side on a fresh dir: log, object store (seeded), metrics, replica and driver */
export async function deleteSide (dir: string, log: ReturnType<typeof quietLogger>): Promise<{ dlog: DeleteLog, store: ObjectStore, metrics: NodeMetrics, driver: DeleteDriver, replica: DeleteReplica }> {
  await mkdir(dir, { recursive: true })
  const dlog = new DeleteLog(join(dir, 'deletes.log'), { fsync: false })
  await dlog.open()
  const store = new ObjectStore(join(dir, 'obj'), { fsync: false })
  await store.open()
  await seedObjects(store)
  const metrics = new NodeMetrics({ processMetrics: false })
  const { driver, replica } = await deleteDriver(dir, dlog, store, metrics, log)
  return { dlog, store, metrics, driver, replica }
}

export function liveFloor (r: DeleteReplica): { get: (vid: number) => number | undefined, seq: (origin: string) => bigint } {
  return { get: (vid) => r.floor.get(vid), seq: (origin) => r.floor.seq(origin) }
}
