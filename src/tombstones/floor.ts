// The dead-generation floor: per vid, the highest generation whose whole-VDI delete is
// causally stable (every current member acknowledged it) and was folded out of the delete
// log. Kept forever — at most one entry per vid — persisted atomically as JSON next to the
// log, with the GC horizon and each origin's highest folded sequence number (so a node
// never reuses a seq whose record was folded away).
//
// FloorState is the content (pure); Floor is the file. A change is made on a copy (a draft),
// the draft is saved (unique temp file, fsync, rename, dir fsync: save() or update()), and
// only then does it become the floor the node acts on — the delete replica adopts a draft
// only once the node reports it saved — so nothing is purged or folded on the strength of an
// entry that a crash (or a full disk) would lose. Saves run one at a time.
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fnv1a64, MAX_VID } from '../oid.js'
import { fmix64 } from './record.js'
import { writeFileAtomic } from '../store/atomicFile.js'

export const FLOOR_FILE = 'floor.json'
const U64 = (1n << 64n) - 1n
const U32_MAX = 0xffff_ffff
/** bytes of a bad entry quoted in a problem report */
const SHOW_CHARS = 80

export class FloorFileError extends Error {
  override name = 'FloorFileError'
}

/** The floor's content; a draft is a copy that update() saves before adopting. */
export class FloorState {
  readonly gens = new Map<number, number>()
  readonly seqs = new Map<string, bigint>()
  sum = 0n
  horizon = 0n
  /** set by any change: an update that changed nothing writes nothing */
  changed = false

  get (vid: number): number | undefined { return this.gens.get(vid) }
  seq (origin: string): bigint { return this.seqs.get(origin) ?? 0n }
  get size (): number { return this.gens.size }
  /** order-independent digest of the entries, so two nodes compare floors in 8 bytes */
  hash (): bigint { return this.sum }

  /** raises vid's floor to `gen`; true if it changed. Throws on a vid or gen out of range. */
  raise (vid: number, gen: number): boolean {
    checkEntry(vid, gen)
    const old = this.gens.get(vid)
    if (old !== undefined && old >= gen) return false
    if (old !== undefined) this.sum = (this.sum - entryHash(vid, old)) & U64
    this.gens.set(vid, gen)
    this.sum = (this.sum + entryHash(vid, gen)) & U64
    this.changed = true
    return true
  }

  noteSeq (origin: string, seq: bigint): void {
    if (seq > (this.seqs.get(origin) ?? 0n)) { this.seqs.set(origin, seq); this.changed = true }
  }

  /** the horizon never moves back */
  advance (horizon: bigint): void {
    if (horizon > this.horizon) { this.horizon = horizon; this.changed = true }
  }

  copy (): FloorState {
    const c = new FloorState()
    for (const [v, g] of this.gens) c.gens.set(v, g)
    for (const [o, s] of this.seqs) c.seqs.set(o, s)
    c.sum = this.sum
    c.horizon = this.horizon
    return c
  }

  entries (): Array<[number, number]> { return [...this.gens.entries()].sort((a, b) => a[0] - b[0]) }

  toJson (): string {
    return JSON.stringify({
      version: 1,
      horizon: this.horizon.toString(16),
      floor: this.entries(),
      seqs: Object.fromEntries([...this.seqs].map(([o, s]) => [o, s.toString()]))
    })
  }
}

export class Floor {
  private cur = new FloorState()
  private chain: Promise<unknown> = Promise.resolve()
  /** bad entries skipped at open(), each naming the file and the entry (shown on /status) */
  readonly problems: string[] = []

  constructor (readonly path: string, private readonly opts: { fsync?: boolean } = {}) {}

  static inDataDir (dataDir: string): Floor { return new Floor(join(dataDir, FLOOR_FILE)) }

  /**
   * Loads the file. Unreadable JSON or a bad horizon refuses (FloorFileError naming the file);
   * a bad floor entry, or a bad folded seq of another origin, is skipped and listed in
   * `problems` (peers send their floor when the digests differ, so the entry comes back). A
   * bad folded seq of `self` refuses: without it this node could reuse a seq.
   */
  async open (self?: string): Promise<void> {
    let text: string
    try {
      text = await readFile(this.path, 'utf8')
    } catch (err: any) {
      if (err?.code === 'ENOENT') return
      throw err
    }
    let j: any
    try { j = JSON.parse(text) } catch (err) { throw new FloorFileError(`floor file ${this.path} is not valid JSON: ${(err as Error).message}`) }
    if (j == null || typeof j !== 'object' || Array.isArray(j)) throw new FloorFileError(`floor file ${this.path} does not hold a JSON object`)
    const s = new FloorState()
    const h = j.horizon ?? '0'
    if (typeof h !== 'string' || !/^[0-9a-f]{1,16}$/.test(h)) throw new FloorFileError(`floor file ${this.path}: bad horizon ${show(h)}`)
    s.horizon = BigInt(`0x${h}`)
    const floor = j.floor ?? []
    if (!Array.isArray(floor)) throw new FloorFileError(`floor file ${this.path}: "floor" is not a list`)
    floor.forEach((e: unknown, i: number) => {
      const why = badEntry(e)
      if (why !== undefined) this.problems.push(`floor file ${this.path}: floor entry ${i} ${show(e)} skipped: ${why}`)
      else s.raise((e as number[])[0], (e as number[])[1])
    })
    const seqs = j.seqs ?? {}
    if (seqs == null || typeof seqs !== 'object' || Array.isArray(seqs)) throw new FloorFileError(`floor file ${this.path}: "seqs" is not an object`)
    for (const [origin, seq] of Object.entries(seqs)) {
      if (typeof seq === 'string' && /^[0-9]{1,20}$/.test(seq) && BigInt(seq) <= U64) { s.noteSeq(origin, BigInt(seq)); continue }
      const msg = `floor file ${this.path}: folded seq of origin ${show(origin)} is ${show(seq)}, not a sequence number`
      if (origin === self) throw new FloorFileError(`${msg}; this node's own, so starting could reuse a seq`)
      this.problems.push(`${msg}; skipped`)
    }
    s.changed = false
    this.cur = s
  }

  get horizon (): bigint { return this.cur.horizon }
  get size (): number { return this.cur.gens.size }
  get (vid: number): number | undefined { return this.cur.get(vid) }
  entries (): Array<[number, number]> { return this.cur.entries() }
  /** highest folded seq of `origin` (0 if none) */
  seq (origin: string): bigint { return this.cur.seq(origin) }

  /** order-independent digest of the entries, so two nodes compare floors in 8 bytes */
  hash (): bigint { return this.cur.sum }

  /** a copy of the floor as saved (the delete replica adopts it at start) */
  state (): FloorState { return this.cur.copy() }

  /**
   * Saves `state` (the delete replica's draft) as the whole floor; resolves once it is on disk
   * (temp file, fsync, rename), only then is it this file's floor. Serialised with update().
   */
  async save (state: FloorState): Promise<void> {
    const next = state.copy()
    const run = this.chain.then(async () => {
      await writeFileAtomic(this.path, next.toJson(), { fsync: this.opts.fsync })
      this.cur = next
    })
    this.chain = run.catch(() => {})
    await run
  }

  /**
   * Applies `change` to a copy of the floor, saves the copy, then adopts it; serialised.
   * Resolves to whether anything changed. If the save fails, the floor is unchanged.
   */
  async update (change: (draft: FloorState) => void): Promise<boolean> {
    const run = this.chain.then(async () => {
      const draft = this.cur.copy()
      change(draft)
      if (!draft.changed) return false
      await writeFileAtomic(this.path, draft.toJson(), { fsync: this.opts.fsync })
      draft.changed = false
      this.cur = draft
      return true
    })
    this.chain = run.catch(() => {})
    return await run
  }
}

function checkEntry (vid: number, gen: number): void {
  if (!Number.isInteger(vid) || vid < 1 || vid > MAX_VID) throw new RangeError(`floor entry vid ${String(vid)} out of range 1..${MAX_VID}`)
  if (!Number.isInteger(gen) || gen < 0 || gen > U32_MAX) throw new RangeError(`floor entry generation ${String(gen)} out of range 0..${U32_MAX}`)
}

function badEntry (e: unknown): string | undefined {
  if (!Array.isArray(e) || e.length !== 2) return 'not a [vid, generation] pair'
  try { checkEntry(e[0], e[1]) } catch (err) { return (err as Error).message }
  return undefined
}

function show (v: unknown): string {
  const t = JSON.stringify(v) ?? String(v)
  return t.length > SHOW_CHARS ? `${t.slice(0, SHOW_CHARS)}…` : t
}

function entryHash (vid: number, gen: number): bigint {
  const b = new Uint8Array(8)
  new DataView(b.buffer).setUint32(0, vid, true)
  new DataView(b.buffer).setUint32(4, gen, true)
  // mixed: plain FNV sums of near-identical inputs cancel out (see recordHash)
  return fmix64(fnv1a64(b))
}
