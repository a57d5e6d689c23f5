// A model of gossipsub's mesh for the deletes topic, one instance for all nodes. Each node keeps
// between Dlo and Dhi mesh peers (aiming at D) out of its connected peers, repaired on every
// gossipsub heartbeat with GRAFT/PRUNE messages; a message is published to every connected
// peer (floodPublish, the js-libp2p default) and forwarded in full to mesh peers only; every
// heartbeat a node sends IHAVE with the ids of the messages of its last `mcacheGossip`
// heartbeats to Dlazy connected non-mesh peers, which answer IWANT for ids they have not seen;
// the message cache forgets a message after `mcacheLength` heartbeats (after that only
// anti-entropy repairs a miss). A seen-cache (one bit per node per message) drops duplicates.
// Not modelled: peer scoring, fanout (every node subscribes), opportunistic grafting, backoff.

import type { Rng } from '../rng.js'
import type { Network } from './network.js'
import { GOSSIP, GRAFT, IHAVE, IWANT, PRUNE } from './kinds.js'

export interface MeshHost {
  /** does n hold a live connection to p (its view has p alive)? */
  connected: (n: number, p: number) => boolean
  /** a message new to n arrived (or n published it): hand it to n's delete logic */
  deliver: (n: number, msgId: number, from: number, hops: number) => void
  /** encoded size of message msgId */
  messageBytes: (msgId: number) => number
}

export interface MeshParams {
  gossipD: number
  gossipDlo: number
  gossipDhi: number
  gossipDlazy: number
  gossipFactor: number
  mcacheLength: number
  mcacheGossip: number
}

export interface MeshStats {
  published: number
  forwarded: number
  duplicates: number
  ihave: number
  iwant: number
  grafts: number
  prunes: number
}

const CONTROL_BYTES = 48

export class GossipMesh {
  private readonly dhi: number
  private readonly meshPeers: Int32Array
  private readonly meshLen: Uint8Array
  private readonly seen: Uint8Array
  private readonly seenBytes: number
  /** per node, flattened [msgId, heartbeat, hops] of cached messages; undefined when empty */
  private readonly mcache: Array<number[] | undefined>
  private readonly beats: Int32Array
  private readonly scratch: Int32Array
  readonly stats: MeshStats = { published: 0, forwarded: 0, duplicates: 0, ihave: 0, iwant: 0, grafts: 0, prunes: 0 }

  constructor (
    private readonly n: number,
    private readonly adjStart: Int32Array,
    private readonly adj: Int32Array,
    private readonly p: MeshParams,
    private readonly net: Network,
    private readonly rng: Rng,
    private readonly host: MeshHost,
    maxMessages: number
  ) {
    this.dhi = p.gossipDhi
    this.meshPeers = new Int32Array(n * this.dhi)
    this.meshLen = new Uint8Array(n)
    this.seenBytes = Math.max(1, Math.ceil(maxMessages / 8))
    this.seen = new Uint8Array(n * this.seenBytes)
    this.mcache = new Array(n).fill(undefined)
    this.beats = new Int32Array(n)
    let maxDeg = 0
    for (let i = 0; i < n; i++) maxDeg = Math.max(maxDeg, adjStart[i + 1]! - adjStart[i]!)
    this.scratch = new Int32Array(maxDeg)
  }

  meshSize (node: number): number { return this.meshLen[node]! }

  hasSeen (node: number, msgId: number): boolean {
    return (this.seen[node * this.seenBytes + (msgId >> 3)]! & (1 << (msgId & 7))) !== 0
  }

  /** a crash: the mesh, the seen-cache and the message cache live in memory */
  reset (node: number): void {
    this.meshLen[node] = 0
    this.seen.fill(0, node * this.seenBytes, (node + 1) * this.seenBytes)
    this.mcache[node] = undefined
  }

  publish (node: number, msgId: number): void {
    this.stats.published++
    this.markSeen(node, msgId, 0)
    const bytes = this.host.messageBytes(msgId)
    for (let i = this.adjStart[node]!; i < this.adjStart[node + 1]!; i++) {
      const q = this.adj[i]!
      if (this.host.connected(node, q)) this.net.send(GOSSIP, node, q, msgId, 1, undefined, bytes)
    }
  }

  onGossip (node: number, from: number, msgId: number, hops: number): void {
    if (this.hasSeen(node, msgId)) {
      this.stats.duplicates++
      return
    }
    this.markSeen(node, msgId, hops)
    this.host.deliver(node, msgId, from, hops)
    const bytes = this.host.messageBytes(msgId)
    const base = node * this.dhi
    for (let i = 0; i < this.meshLen[node]!; i++) {
      const q = this.meshPeers[base + i]!
      if (q === from) continue
      this.stats.forwarded++
      this.net.send(GOSSIP, node, q, msgId, hops + 1, undefined, bytes)
    }
  }

  onGraft (node: number, from: number): void {
    if (this.meshIndex(node, from) >= 0) return
    if (this.meshLen[node]! < this.dhi && this.host.connected(node, from)) this.addMesh(node, from)
    else this.net.send(PRUNE, node, from, 0, 0, undefined, CONTROL_BYTES)
  }

  onPrune (node: number, from: number): void {
    const i = this.meshIndex(node, from)
    if (i >= 0) this.removeMeshAt(node, i)
  }

  onIhave (node: number, from: number, ids: number[]): void {
    const want: number[] = []
    for (const id of ids) if (!this.hasSeen(node, id)) want.push(id)
    if (want.length === 0) return
    this.stats.iwant++
    this.net.send(IWANT, node, from, 0, 0, want, CONTROL_BYTES + 8 * want.length)
  }

  onIwant (node: number, from: number, ids: number[]): void {
    const c = this.mcache[node]
    if (c === undefined) return
    for (const id of ids) {
      for (let i = 0; i < c.length; i += 3) {
        if (c[i] === id) {
          this.net.send(GOSSIP, node, from, id, c[i + 2]! + 1, undefined, this.host.messageBytes(id))
          break
        }
      }
    }
  }

  /** one gossipsub heartbeat at `node`: mesh repair, IHAVE gossip, message-cache shift */
  heartbeat (node: number): void {
    const base = node * this.dhi
    // peers whose connection died leave the mesh
    for (let i = this.meshLen[node]! - 1; i >= 0; i--) {
      if (!this.host.connected(node, this.meshPeers[base + i]!)) this.removeMeshAt(node, i)
    }
    const have = this.meshLen[node]!
    if (have < this.p.gossipDlo) {
      const k = this.candidates(node)
      for (let i = 0; i < k && this.meshLen[node]! < this.p.gossipD; i++) {
        const q = this.scratch[i]!
        this.addMesh(node, q)
        this.stats.grafts++
        this.net.send(GRAFT, node, q, 0, 0, undefined, CONTROL_BYTES)
      }
    } else if (have > this.p.gossipDhi) {
      while (this.meshLen[node]! > this.p.gossipD) {
        const i = Math.floor(this.rng() * this.meshLen[node]!)
        const q = this.meshPeers[base + i]!
        this.removeMeshAt(node, i)
        this.stats.prunes++
        this.net.send(PRUNE, node, q, 0, 0, undefined, CONTROL_BYTES)
      }
    }
    const beat = this.beats[node]! + 1
    this.beats[node] = beat
    const c = this.mcache[node]
    if (c === undefined) return
    const ids: number[] = []
    let w = 0
    for (let i = 0; i < c.length; i += 3) {
      if (c[i + 1]! < beat - this.p.mcacheLength) continue // forgotten
      if (c[i + 1]! >= beat - this.p.mcacheGossip) ids.push(c[i]!)
      c[w++] = c[i]!; c[w++] = c[i + 1]!; c[w++] = c[i + 2]!
    }
    c.length = w
    if (w === 0) this.mcache[node] = undefined
    if (ids.length === 0) return
    const k = this.candidates(node)
    const targets = Math.min(k, Math.max(this.p.gossipDlazy, Math.floor(k * this.p.gossipFactor)))
    for (let i = 0; i < targets; i++) {
      this.stats.ihave++
      this.net.send(IHAVE, node, this.scratch[i]!, 0, 0, ids, CONTROL_BYTES + 8 * ids.length)
    }
  }

  /** connected peers not in the mesh, shuffled into scratch; returns how many */
  private candidates (node: number): number {
    let k = 0
    for (let i = this.adjStart[node]!; i < this.adjStart[node + 1]!; i++) {
      const q = this.adj[i]!
      if (this.meshIndex(node, q) >= 0 || !this.host.connected(node, q)) continue
      this.scratch[k++] = q
    }
    for (let i = k - 1; i > 0; i--) {
      const j = Math.floor(this.rng() * (i + 1))
      const t = this.scratch[i]!
      this.scratch[i] = this.scratch[j]!
      this.scratch[j] = t
    }
    return k
  }

  private markSeen (node: number, msgId: number, hops: number): void {
    const at = node * this.seenBytes + (msgId >> 3)
    this.seen[at] = this.seen[at]! | (1 << (msgId & 7))
    let c = this.mcache[node]
    if (c === undefined) this.mcache[node] = c = []
    c.push(msgId, this.beats[node]!, hops)
  }

  private meshIndex (node: number, q: number): number {
    const base = node * this.dhi
    for (let i = 0; i < this.meshLen[node]!; i++) if (this.meshPeers[base + i] === q) return i
    return -1
  }

  private addMesh (node: number, q: number): void {
    if (this.meshLen[node]! >= this.dhi) return
    this.meshPeers[node * this.dhi + this.meshLen[node]!] = q
    this.meshLen[node] = this.meshLen[node]! + 1
  }

  private removeMeshAt (node: number, i: number): void {
    const base = node * this.dhi
    const last = this.meshLen[node]! - 1
    this.meshLen[node] = last
    this.meshPeers[base + i] = this.meshPeers[base + last]!
  }
}
