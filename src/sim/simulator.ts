// The simulator: N nodes in one process, in virtual time. Builds the world from the parameters
// (overlay, placement, scenario — each from its own stream of the seed, as TigerBeetle's
// simulator gives each subsystem its own seed), then pops events in (time, insertion) order and
// routes each to the node, the mesh or the world; every tick the tracker checks the
// invariants, and the first violation ends the run. Every popped event is folded into a trace
// hash: the same seed and overrides give the same hash on any machine.

import { seededRng, type Rng } from '../rng.js'
import type { DeleteRec } from '../tombstones/record.js'
import { encodedRecordSize } from '../antientropy/simulate.js'
import { EventQueue } from './eventQueue.js'
import { Network } from './network.js'
import { GossipMesh } from './mesh.js'
import { ObjectTable } from './objects.js'
import { SimNode, type HeartbeatMsg, type NodeWorld } from './simNode.js'
import { Tracker, type Violation } from './tracker.js'
import { buildScenario, type Scenario } from './scenario.js'
import { describeParams, replayCommand, type SimOverrides, type SimParams } from './params.js'
import type { AeStats } from './aeSessions.js'
import { summarize, type SimSummary } from './summary.js'
import * as K from './kinds.js'

export interface SimOptions {
  /** receives every output line (parameters, progress) as it is made */
  out?: (line: string) => void
  /** progress lines over the run (default 10) */
  progressLines?: number
  /** also sample the tombstone state every this many virtual ms (default: with the progress lines only) */
  seriesEveryMs?: number
}

export interface SimResult {
  params: SimParams
  violation?: Violation
  replay: string
  traceHash: string
  events: number
  summary: SimSummary
}

export class Simulator implements NodeWorld {
  readonly queue = new EventQueue()
  readonly net: Network
  readonly mesh: GossipMesh
  readonly objects: ObjectTable
  readonly ids: string[]
  readonly idIndex = new Map<string, number>()
  readonly adjStart: Int32Array
  readonly adj: Int32Array
  readonly rng: Rng
  readonly aeStats: AeStats = { started: 0, clean: 0, failed: 0, frames: 0 }
  cutEpoch = 0
  readonly nodes: SimNode[] = []
  readonly tracker: Tracker
  readonly scenario: Scenario
  /** anti-entropy bytes sent so far, and at the last heal */
  aeBytesTotal = 0
  aeBytesAtHeal = 0
  /** anti-entropy bytes sent by the tick at which everything pending at the last heal was known and purged everywhere */
  aeBytesAtHealConverged = -1
  /** tombstone state per node (log records, floor entries: max and mean), sampled with the progress lines and every seriesEveryMs */
  readonly tombstoneSeries: TombstoneSample[] = []
  private readonly msgs: DeleteRec[][] = []
  private readonly maxMessages: number
  private readonly workload: Rng
  private readonly vidDeleted: Uint8Array
  private idCounter = 0
  private h1 = 0x811c9dc5
  private h2 = 0x01000193
  private events = 0

  constructor (readonly p: SimParams, private readonly overrides: SimOverrides, private readonly opts: SimOptions = {}) {
    const master = seededRng(p.seed ^ 0x5eed5eedn)
    const sub = (): Rng => seededRng(Math.floor(master() * 4294967296))
    const netRng = sub()
    const meshRng = sub()
    const placeRng = sub()
    const scriptRng = sub()
    this.rng = sub()
    this.workload = sub()
    const n = p.nodes
    this.ids = Array.from({ length: n }, (_, i) => `sim-${String(i).padStart(5, '0')}`)
    this.ids.forEach((id, i) => this.idIndex.set(id, i))
    const [adjStart, adj] = overlay(n, p.degree, sub())
    this.adjStart = adjStart
    this.adj = adj
    this.net = new Network(n, this.queue, netRng, p.latency, p.loss, p.dup, p.reorder)
    this.maxMessages = p.deletes + p.faultDeletes + 16
    this.objects = new ObjectTable(n, p.objectsPerNode, p.objectsPerVdi, p.copies, placeRng, p.deletes + p.faultDeletes)
    this.vidDeleted = new Uint8Array(this.objects.vids + 2)
    this.tracker = new Tracker(n, this.objects)
    this.mesh = new GossipMesh(n, this.adjStart, this.adj, p, this.net, meshRng, {
      connected: (a, b) => this.nodes[a]!.view.status(this.ids[b]!) === 'alive',
      deliver: (a, msgId, from, hops) => { this.nodes[a]!.onGossip(this.msgs[msgId]!, from, hops) },
      messageBytes: (msgId) => 64 + this.msgs[msgId]!.reduce((s, r) => s + encodedRecordSize(r), 0)
    }, this.maxMessages)
    this.scenario = buildScenario(p, scriptRng, this.objects.count)
    this.objects.clock = () => this.queue.now
  }

  nextId = (): number => ++this.idCounter

  publish (node: number, recs: DeleteRec[]): void {
    if (this.msgs.length >= this.maxMessages) return
    this.msgs.push(recs)
    this.mesh.publish(node, this.msgs.length - 1)
  }

  learned (node: number, recs: readonly DeleteRec[], from: number, hops: number): void {
    this.tracker.learned(node, recs, from, hops, this.queue.now)
  }

  floorRaised (node: number, vid: number, generation: number): void {
    this.tracker.floorRaised(node, vid, generation, this.queue.now)
  }

  copied (node: number, o: number, k: number, from: number): void {
    this.tracker.copied(node, o, k, from, this.queue.now)
  }

  aeBytes (n: number): void { this.aeBytesTotal += n }

  run (): SimResult {
    const p = this.p
    const out = this.opts.out ?? (() => {})
    for (const line of describeParams(p)) out(line)
    const endMs = p.ticks * p.tickMs
    const boundFrom = this.scenario.lastHealAt + p.purgeBoundMs
    const progressEvery = Math.max(1, Math.floor(p.ticks / (this.opts.progressLines ?? 10)))
    const seriesEvery = this.opts.seriesEveryMs === undefined ? 0 : Math.max(1, Math.round(this.opts.seriesEveryMs / p.tickMs))
    for (let o = 0; o < this.objects.count; o++) {
      if (this.scenario.initial[o] === 1) this.objects.write(o, 0, (1 << this.objects.copies) - 1)
    }
    for (const node of Array.from({ length: p.nodes }, (_, i) => new SimNode(i, this))) this.nodes.push(node)
    for (const node of this.nodes) node.start()
    for (const e of this.scenario.events) this.queue.push(e.at, e.kind, 0, 0, e.c)
    this.queue.push(p.tickMs, K.W_TICK, 1)
    const q = this.queue
    while (q.pop()) {
      if (q.now > endMs) break
      this.events++
      this.trace(q.now, q.kind, q.a, q.b, q.c, q.e)
      const kind = q.kind
      if (K.isMessage(kind)) {
        if (this.net.admit(q.a, q.b, q.d)) this.deliver(kind, q.a, q.b, q.c, q.e, q.obj)
      } else if (kind < K.W_TICK) {
        if (this.net.up[q.a] === 1 && this.net.life[q.a] === q.d) {
          if (kind === K.T_SESSION) this.nodes[q.a]!.onSessionTimeout(q.c)
          else this.nodes[q.a]!.onTimer(kind, q.c)
        }
      } else if (kind === K.W_TICK) {
        const tick = q.a
        this.tracker.tick(q.now, boundFrom, p.maxTombstones, (i) => this.nodes[i]!.log.size, (i) => this.nodes[i]!.replica.floor.size)
        if (tick % progressEvery === 0 || tick === p.ticks) out(this.progress(tick))
        else if (seriesEvery > 0 && tick % seriesEvery === 0) this.sample()
        if (this.aeBytesAtHealConverged < 0 && this.tracker.healConverged()) this.aeBytesAtHealConverged = this.aeBytesTotal
        if (tick < p.ticks) q.push(q.now + p.tickMs, K.W_TICK, tick + 1)
      } else this.world(kind, q.c)
      if (this.tracker.violation !== undefined) break
    }
    if (this.tracker.violation === undefined) {
      this.tracker.final(q.now, (i) => this.nodes[i]!.log.records().filter((r) => r.kind === 'vdi').length)
    }
    return {
      params: p,
      violation: this.tracker.violation,
      replay: replayCommand(p, this.overrides),
      traceHash: this.traceHash(),
      events: this.events,
      summary: summarize(this)
    }
  }

  traceHash (): string {
    return (this.h1 >>> 0).toString(16).padStart(8, '0') + (this.h2 >>> 0).toString(16).padStart(8, '0')
  }

  private trace (now: number, kind: number, a: number, b: number, c: number, e: number): void {
    const t = Math.round(now * 1000)
    this.mix(t % 4294967296)
    this.mix(Math.floor(t / 4294967296))
    this.mix(kind)
    this.mix(a)
    this.mix(b)
    this.mix(c)
    this.mix(e)
  }

  private mix (w: number): void {
    this.h1 = Math.imul(this.h1 ^ (w | 0), 0x01000193)
    this.h2 = Math.imul(this.h2 ^ (w | 0), 0x5bd1e995) ^ (this.h2 >>> 15)
  }

  private deliver (kind: number, from: number, to: number, c: number, e: number, obj: unknown): void {
    const node = this.nodes[to]!
    switch (kind) {
      case K.HEARTBEAT: node.onHeartbeat(from, obj as HeartbeatMsg); break
      case K.GRAFT: this.mesh.onGraft(to, from); break
      case K.PRUNE: this.mesh.onPrune(to, from); break
      case K.GOSSIP: this.mesh.onGossip(to, from, c, e); break
      case K.IHAVE: this.mesh.onIhave(to, from, obj as number[]); break
      case K.IWANT: this.mesh.onIwant(to, from, obj as number[]); break
      case K.AE_FRAME: node.onFrame(from, c, e, obj as Uint8Array); break
      case K.LIST_REQ: node.onListReq(from, c); break
      case K.LIST_RESP: node.onListResp(from, e === 1, obj as Int32Array | undefined); break
    }
  }

  private world (kind: number, c: number): void {
    const now = this.queue.now
    switch (kind) {
      case K.W_PARTITION:
        this.net.group.set(this.scenario.groups[c]!)
        this.cutEpoch++
        break
      case K.W_HEAL:
        this.net.group.fill(0)
        this.cutEpoch++
        this.tracker.heal(now)
        this.aeBytesAtHeal = this.aeBytesTotal
        this.aeBytesAtHealConverged = -1
        break
      case K.W_CRASH:
        this.net.up[c] = 0
        this.mesh.reset(c)
        break
      case K.W_RESTART:
        this.net.life[c] = this.net.life[c]! + 1
        this.net.up[c] = 1
        this.nodes[c]!.start()
        if (this.p.partitions === 0) {
          // no partition heals in this run: a restart is the heal the summary measures
          this.tracker.heal(now)
          this.aeBytesAtHeal = this.aeBytesTotal
          this.aeBytesAtHealConverged = -1
        }
        break
      case K.W_DELETE: this.issueDelete(c === 1); break
      case K.W_WRITE: this.write(c); break
    }
  }

  private upNode (): number {
    for (let tries = 0; tries < 1000; tries++) {
      const i = Math.floor(this.workload() * this.p.nodes)
      if (this.net.up[i] === 1) return i
    }
    return -1
  }

  /** a client's delete at a random live node: a whole VDI, or a discard of a few written objects */
  private issueDelete (fault: boolean): void {
    const origin = this.upNode()
    const ob = this.objects
    if (origin < 0 || this.tracker.deletes.length >= ob.deleteHeld.length) return
    let vid = 1 + Math.floor(this.workload() * ob.vids)
    for (let tries = 0; this.vidDeleted[vid] === 1 && tries < 100; tries++) vid = 1 + Math.floor(this.workload() * ob.vids)
    if (this.vidDeleted[vid] === 1) return
    const node = this.nodes[origin]!
    let rec: DeleteRec
    if (this.workload() < this.p.discardShare) {
      const live: number[] = []
      for (let o = ob.vidFirst[vid]!; o < ob.vidFirst[vid + 1]!; o++) if (ob.writtenAt[o]! >= 0 && ob.deletedBy[o]! < 0) live.push(o)
      if (live.length === 0) return
      const pick = new Set<number>()
      const want = Math.min(live.length, 1 + Math.floor(this.workload() * 4))
      while (pick.size < want) pick.add(live[Math.floor(this.workload() * live.length)]! - ob.vidFirst[vid]!)
      const indexes = Uint32Array.from([...pick].sort((x, y) => x - y))
      rec = { kind: 'objects', origin: node.id, seq: node.nextSeq(), hlc: node.nowHlc(), vid, generation: 0, indexes }
    } else {
      this.vidDeleted[vid] = 1
      rec = { kind: 'vdi', origin: node.id, seq: node.nextSeq(), hlc: node.nowHlc(), vid, generation: 0 }
    }
    this.tracker.issue(rec, origin, this.queue.now, fault)
    node.originate(rec)
  }

  /** a late write: every replica the writer reaches takes it; acknowledged if one did */
  private write (o: number): void {
    const ob = this.objects
    if (this.vidDeleted[ob.vidOf[o]!] === 1 || ob.deletedBy[o]! >= 0) return
    const writer = this.upNode()
    if (writer < 0) return
    let mask = 0
    for (let k = 0; k < ob.copies; k++) {
      const q = ob.replicas[o * ob.copies + k]!
      if (this.net.reachable(writer, q)) mask |= 1 << k
    }
    if (mask !== 0) ob.write(o, this.queue.now, mask)
  }

  /** one point of the tombstone series: log records and floor entries per node, max and mean */
  private sample (): TombstoneSample {
    let maxLog = 0
    let sumLog = 0
    let maxFloor = 0
    let sumFloor = 0
    for (const node of this.nodes) {
      const l = node.log.size
      if (l > maxLog) maxLog = l
      sumLog += l
      const f = node.replica.floor.size
      if (f > maxFloor) maxFloor = f
      sumFloor += f
    }
    const s = { at: this.queue.now, maxLog, meanLog: sumLog / this.nodes.length, maxFloor, meanFloor: sumFloor / this.nodes.length }
    this.tombstoneSeries.push(s)
    return s
  }

  private progress (tick: number): string {
    const { maxLog, meanLog, maxFloor } = this.sample()
    const now = this.queue.now
    const known = this.tracker.deletes.filter((d) => d.knownAllAt >= 0).length
    const c = this.objects.counters
    const up = this.net.up.reduce((s, x) => s + x, 0)
    return `t=${(now / 1000).toFixed(1)}s tick=${tick} events=${this.events} up=${up}/${this.p.nodes} deletes=${this.tracker.deletes.length} known-everywhere=${known}` +
      ` held-deleted=${c.heldDeleted} live-missing=${c.liveMissing} log max/mean=${maxLog}/${meanLog.toFixed(1)} floor max=${maxFloor}` +
      ` ae sessions=${this.aeStats.started} failed=${this.aeStats.failed} net lost=${this.net.stats.lost} cut=${this.net.stats.cut}`
  }
}

export interface TombstoneSample { at: number, maxLog: number, meanLog: number, maxFloor: number, meanFloor: number }

/** a random overlay of about `degree` connections per node (everyone when n <= degree + 1), as CSR */
function overlay (n: number, degree: number, rng: Rng): [Int32Array, Int32Array] {
  const sets: Array<Set<number>> = Array.from({ length: n }, () => new Set<number>())
  if (n <= degree + 1) {
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) if (i !== j) sets[i]!.add(j)
  } else {
    const half = Math.ceil(degree / 2)
    for (let i = 0; i < n; i++) {
      while (sets[i]!.size < half) {
        const j = Math.floor(rng() * n)
        if (j === i) continue
        sets[i]!.add(j)
        sets[j]!.add(i)
      }
    }
  }
  const start = new Int32Array(n + 1)
  for (let i = 0; i < n; i++) start[i + 1] = start[i]! + sets[i]!.size
  const adj = new Int32Array(start[n]!)
  for (let i = 0; i < n; i++) adj.set([...sets[i]!].sort((a, b) => a - b), start[i]!)
  return [start, adj]
}
