// Which delete records (and floor entries) from peers this node takes: the trust checks of
// issue 11, on top of the per-field validation every decoder already does (record.ts).
// Pure decisions over a small view of the node's state (AdmissionState), so unit tests drive
// every case with fakes.
//
// - Gossip: a message has one signed author, who vouches for every record in it: each must
//   name that author as its origin and be within bounds, or the WHOLE message is refused
//   (gossipsub Reject: the peer-score penalty). Nothing of it is applied; anti-entropy brings
//   whatever honest records it carried.
// - Anti-entropy relays records of every origin, and a relay vouches for none of them: it may
//   honestly hold a record this node refuses (one forged under our origin, or one beyond what
//   we know yet). So each record stands alone: a refused record is never applied, the others
//   of the frame are. Refusing the whole frame instead would let one forged record, once in
//   other nodes' sets, block this node from every record those nodes hold, forever.
//   A relayed record must name an origin that is or was a member. "Was" is known durably by
//   what this node accepted before: an origin with records in its delete log or folded seqs
//   in its floor (both files survive restarts). "Is": the membership view (not yet evicted),
//   or a peer connected to us right now (it holds the swarm key and proved its peer id; after
//   a restart connections come up before the first heartbeats do).
// - Bounds "within what honest nodes can produce": generation ≤ what this node knows of the
//   vid + GENERATION_SLACK (MAX_GENERATION_UNKNOWN_VID for a vid it knows nothing of); seq ≤
//   the highest seq of that origin held or folded + SEQ_SLACK; and a record of this node's
//   own origin is taken only if this node wrote it (its log holds it).
// Records the floor already stands for are passed through unchecked: the pipeline drops them.
import type { DeleteRec } from '../tombstones/record.js'
import { GENERATION_SLACK, MAX_GENERATION_UNKNOWN_VID, SEQ_SLACK } from '../tombstones/constants.js'
import { formatVid, MAX_VID } from '../oid.js'

export interface AdmissionState {
  self: string
  /** in the membership view now (alive, suspect or failed, until evicted), or connected to us */
  isMember (origin: string): boolean
  /** highest seq of `origin` held in the delete log or folded into the floor; 0n if none */
  highestSeq (origin: string): bigint
  /** the delete log holds this record identity */
  holds (origin: string, seq: bigint): boolean
  /** the floor already stands for this record (it will be dropped, not applied) */
  coveredByFloor (rec: DeleteRec): boolean
  /** the highest generation of `vid` this node knows of (floor, tombstones, objects held); undefined if none */
  knownGeneration (vid: number): Promise<number | undefined>
}

/** a bw_rejected_total kind and why */
export interface Refusal {
  kind: RefusalKind
  reason: string
}

export type RefusalKind =
  | 'delete-origin'
  | 'delete-unknown-origin'
  | 'delete-own-origin'
  | 'delete-seq'
  | 'delete-generation'
  | 'floor-entry'
  | 'floor-generation'

/** the highest generation a record or floor entry of a vid may name, given what we know of the vid */
export function generationLimit (known: number | undefined): number {
  return known === undefined ? MAX_GENERATION_UNKNOWN_VID : known + GENERATION_SLACK
}

export class RecordAdmission {
  constructor (private readonly s: AdmissionState) {}

  /** A gossip message from `author`: the first refusal, or undefined if every record may be applied. */
  async checkGossip (recs: DeleteRec[], author: string): Promise<Refusal | undefined> {
    for (const r of recs) {
      if (r.origin !== author) {
        return { kind: 'delete-origin', reason: `record ${show(r)} names origin ${r.origin.slice(0, 64)}, not its signed author` }
      }
    }
    const limits = new GenerationLimits(this.s)
    for (const r of recs) {
      if (this.s.coveredByFloor(r)) continue
      const why = this.seqRefusal(r) ?? await limits.refusal(r)
      if (why !== undefined) return why
    }
    return undefined
  }

  /** Records relayed by anti-entropy: each is taken or refused on its own (see the header). */
  async checkRelayed (recs: DeleteRec[]): Promise<{ accepted: DeleteRec[], refused: Refusal[] }> {
    const accepted: DeleteRec[] = []
    const refused: Refusal[] = []
    const limits = new GenerationLimits(this.s)
    for (const r of recs) {
      const why = this.s.coveredByFloor(r) ? undefined : this.originRefusal(r) ?? this.seqRefusal(r) ?? await limits.refusal(r)
      if (why === undefined) accepted.push(r)
      else refused.push(why)
    }
    return { accepted, refused }
  }

  /**
   * Floor entries a peer sent. A malformed entry (vid or generation out of range) is something
   * no honest node's floor can hold (floor.ts refuses to raise one), so it refuses the whole
   * list: `malformed` is set and nothing is taken. Otherwise each entry is bounded like a
   * record's generation, on its own (a node that lags may refuse some of an honest floor, and
   * takes them in a later session once it knows more).
   */
  async checkFloor (entries: Array<{ vid: number, generation: number }>): Promise<{ accepted: Array<{ vid: number, generation: number }>, refused: Refusal[], malformed?: Refusal }> {
    for (const e of entries) {
      if (!Number.isInteger(e.vid) || e.vid < 1 || e.vid > MAX_VID || !Number.isInteger(e.generation) || e.generation < 0 || e.generation > 0xffff_ffff) {
        return { accepted: [], refused: [], malformed: { kind: 'floor-entry', reason: `floor entry vid ${String(e.vid)} generation ${String(e.generation)} out of range (vid 1..${MAX_VID})` } }
      }
    }
    const accepted: Array<{ vid: number, generation: number }> = []
    const refused: Refusal[] = []
    const limits = new GenerationLimits(this.s)
    for (const e of entries) {
      const limit = await limits.of(e.vid)
      if (e.generation <= limit) accepted.push(e)
      else refused.push({ kind: 'floor-generation', reason: `floor entry ${formatVid(e.vid)} generation ${e.generation} is beyond ${limit}, the most this node can take for that vid` })
    }
    return { accepted, refused }
  }

  private originRefusal (r: DeleteRec): Refusal | undefined {
    if (r.origin === this.s.self) {
      if (this.s.holds(r.origin, r.seq)) return undefined
      return { kind: 'delete-own-origin', reason: `record ${show(r)} claims this node's origin, but this node never wrote it` }
    }
    if (this.s.isMember(r.origin) || this.s.highestSeq(r.origin) > 0n) return undefined
    return { kind: 'delete-unknown-origin', reason: `record ${show(r)} names origin ${r.origin.slice(0, 64)}, which is not and never was a member here` }
  }

  private seqRefusal (r: DeleteRec): Refusal | undefined {
    const limit = this.s.highestSeq(r.origin) + SEQ_SLACK
    if (r.seq <= limit) return undefined
    return { kind: 'delete-seq', reason: `record ${show(r)}: seq ${r.seq} is beyond ${limit} (highest seen of that origin + ${SEQ_SLACK})` }
  }
}

/** generation limits of the vids of one input, each looked up once */
class GenerationLimits {
  private readonly cache = new Map<number, number>()
  constructor (private readonly s: AdmissionState) {}

  async of (vid: number): Promise<number> {
    let l = this.cache.get(vid)
    if (l === undefined) {
      l = generationLimit(await this.s.knownGeneration(vid))
      this.cache.set(vid, l)
    }
    return l
  }

  async refusal (r: DeleteRec): Promise<Refusal | undefined> {
    const limit = await this.of(r.vid)
    if (r.generation <= limit) return undefined
    return { kind: 'delete-generation', reason: `record ${show(r)}: generation ${r.generation} is beyond ${limit}, the most this node can take for that vid` }
  }
}

function show (r: DeleteRec): string {
  return `${r.origin.slice(-8)}/${r.seq} (${r.kind} ${formatVid(r.vid)} gen ${r.generation})`
}
