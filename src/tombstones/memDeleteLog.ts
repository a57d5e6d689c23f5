// A delete log in memory, for the simulator and unit tests: the same answers as the file-backed
// DeleteLog (dedupe by (origin, seq) within a call and across calls in order, nextSeq, summary,
// compaction that keeps seqs taken, appends that resolve once "durable", open-once and
// closed-rejects) without a file. What a restart would find is `durable()`: hand it to a new
// MemDeleteLog to model a crash that keeps the disk. Its disk never fails (unavailable() is
// always undefined); the file-backed log's failure handling is tested against real files.
import { validateRecord, type DeleteRec } from './record.js'
import { DeleteLogError, type DeleteLogApi, type DeleteLogHooks } from './deleteLogApi.js'
import { HeldRecords } from './heldRecords.js'

type State = 'new' | 'open' | 'closed'

export class MemDeleteLog implements DeleteLogApi {
  private readonly held = new HeldRecords()
  private state: State = 'new'
  /** appends and compactions run one after another, in call order, as the file log's flush loop runs them */
  private tail: Promise<unknown> = Promise.resolve()
  readonly pending = 0
  readonly writeFailures = 0
  hooks: DeleteLogHooks = {}

  /** `initial`: what the "disk" holds at open (a previous incarnation's durable()) */
  constructor (private readonly initial: readonly DeleteRec[] = []) {}

  async open (): Promise<{ records: number, tornBytes: number, removedTemps: string[] }> {
    if (this.state !== 'new') throw new DeleteLogError('delete log already opened')
    for (const r of this.initial) {
      validateRecord(r)
      if (!this.held.has(r.origin, r.seq)) this.held.hold(r)
    }
    this.state = 'open'
    return { records: this.held.size, tornBytes: 0, removedTemps: [] }
  }

  async append (recs: DeleteRec[]): Promise<DeleteRec[]> {
    if (this.state !== 'open') throw new DeleteLogError('delete log is not open')
    // a bad record rejects only its own call, before anything of it is held
    for (const r of recs) validateRecord(r)
    return await this.serial(() => {
      const fresh: DeleteRec[] = []
      for (const r of recs) {
        if (this.held.has(r.origin, r.seq)) continue
        this.held.hold(r)
        fresh.push(r)
      }
      return fresh
    })
  }

  unavailable (): string | undefined { return undefined }

  has (origin: string, seq: bigint): boolean { return this.held.has(origin, seq) }

  nextSeq (origin: string): bigint { return 1n + this.held.maxSeq(origin) }

  get size (): number { return this.held.size }

  summary (): { count: number, fingerprint: bigint, maxHlc: bigint } { return this.held.summary() }

  records (): DeleteRec[] { return this.held.records() }

  perOrigin (): Map<string, { contiguous: bigint, max: bigint }> { return this.held.perOrigin() }

  async compact (drop: (r: DeleteRec) => boolean): Promise<number> {
    if (this.state !== 'open') throw new DeleteLogError('delete log is not open')
    return await this.serial(() => {
      const kept = this.held.records().filter((r) => !drop(r))
      const dropped = this.held.size - kept.length
      if (dropped > 0) this.held.keepOnly(kept)
      return dropped
    })
  }

  async close (): Promise<void> {
    this.state = 'closed'
    await this.tail
  }

  /** what a restart would read back: every record held now (compacted ones are gone) */
  durable (): DeleteRec[] { return this.held.records() }

  private async serial<T> (fn: () => T): Promise<T> {
    const run = this.tail.then(fn)
    this.tail = run.catch(() => {})
    return await run
  }
}
