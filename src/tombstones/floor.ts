// The dead-generation floor: per vid, the highest generation whose whole-VDI delete is
// causally stable (every current member acknowledged it) and was folded out of the delete
// log. Kept forever — at most one entry per vid — persisted atomically as JSON next to the
// log, with the GC horizon and each origin's highest folded sequence number (so a node
// never reuses a seq whose record was folded away).
import { open, readFile, rename } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fnv1a64 } from '../oid.js'
import { fmix64 } from './record.js'

export const FLOOR_FILE = 'floor.json'
const U64 = (1n << 64n) - 1n

export class Floor {
  private readonly gens = new Map<number, number>()
  private readonly seqs = new Map<string, bigint>()
  private sum = 0n
  horizon = 0n

  constructor (readonly path: string) {}

  static inDataDir (dataDir: string): Floor { return new Floor(join(dataDir, FLOOR_FILE)) }

  async open (): Promise<void> {
    let text: string
    try {
      text = await readFile(this.path, 'utf8')
    } catch (err: any) {
      if (err?.code === 'ENOENT') return
      throw err
    }
    let j: any
    try { j = JSON.parse(text) } catch (err) { throw new Error(`floor file ${this.path} is not valid JSON: ${(err as Error).message}`) }
    this.horizon = BigInt(`0x${String(j.horizon ?? '0')}`)
    for (const [vid, gen] of j.floor ?? []) this.raise(Number(vid), Number(gen))
    for (const [origin, seq] of Object.entries(j.seqs ?? {})) this.seqs.set(origin, BigInt(seq as string))
  }

  get size (): number { return this.gens.size }
  get (vid: number): number | undefined { return this.gens.get(vid) }
  entries (): Array<[number, number]> { return [...this.gens.entries()].sort((a, b) => a[0] - b[0]) }
  /** highest folded seq of `origin` (0 if none) */
  seq (origin: string): bigint { return this.seqs.get(origin) ?? 0n }

  /** order-independent digest of the entries, so two nodes compare floors in 8 bytes */
  hash (): bigint { return this.sum }

  /** raises vid's floor to `gen`; true if it changed */
  raise (vid: number, gen: number): boolean {
    const old = this.gens.get(vid)
    if (old !== undefined && old >= gen) return false
    if (old !== undefined) this.sum = (this.sum - entryHash(vid, old)) & U64
    this.gens.set(vid, gen)
    this.sum = (this.sum + entryHash(vid, gen)) & U64
    return true
  }

  noteSeq (origin: string, seq: bigint): void {
    if (seq > (this.seqs.get(origin) ?? 0n)) this.seqs.set(origin, seq)
  }

  async save (): Promise<void> {
    const body = JSON.stringify({
      version: 1,
      horizon: this.horizon.toString(16),
      floor: this.entries(),
      seqs: Object.fromEntries([...this.seqs].map(([o, s]) => [o, s.toString()]))
    })
    const tmp = `${this.path}.tmp-${process.pid}`
    const fh = await open(tmp, 'w')
    try {
      await fh.writeFile(body)
      await fh.sync()
    } finally {
      await fh.close()
    }
    await rename(tmp, this.path)
    const dir = await open(dirname(this.path), 'r')
    try { await dir.sync() } finally { await dir.close() }
  }
}

function entryHash (vid: number, gen: number): bigint {
  const b = new Uint8Array(8)
  new DataView(b.buffer).setUint32(0, vid, true)
  new DataView(b.buffer).setUint32(4, gen, true)
  // mixed: plain FNV sums of near-identical inputs cancel out (see recordHash)
  return fmix64(fnv1a64(b))
}
