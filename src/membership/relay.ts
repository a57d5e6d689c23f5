// Which accepted heartbeats this node passes on to its gossip mesh, and which members it does
// not hear straight from. Pure: the caller gives the time and the members' timeouts.
//
// Every node publishes its own heartbeat to every connected subscriber (flood publish), and
// membership keeps every member dialled, so in a whole cluster each member already hears each
// beat from its author. A relayed copy then tells nobody anything: with every beat relayed,
// relays were about four of every five heartbeat messages a node sent and received (mesh
// degree 4), and most of an idle node's CPU. Relaying stays for what only it does:
// - news: a member's first beat, and any beat whose membership fields changed (epoch, member
//   set, addresses, zone, API, incarnation, leaving, whether it misses members). A joiner learns
//   the cluster this way, and so does a node not connected to the author yet.
// - while any live member reports members it does not hear straight from (`unheard` in its
//   heartbeat): a connection cut between two nodes that both still reach a third (a bridge
//   partition), or not made yet. Then every node relays every beat, as gossip always did, so the
//   cut-off pair keeps hearing each other through the others and neither declares the other
//   dead. A member counts as unheard once no copy of its beat came straight from it for 3/8 of
//   its failure timeout (1.5 of its periods): the report and the first relayed beat then arrive
//   well before the timeout.
import type { HeartbeatIn } from './view.js'

/** what a beat says about membership; a change in any of these is news */
export function newsKey (hb: Pick<HeartbeatIn, 'epoch' | 'membersHash' | 'addrs' | 'zone' | 'api' | 'incarnation' | 'leaving'> & { unheard: number }): string {
  return `${hb.epoch}/${hb.membersHash}/${hb.incarnation}/${hb.leaving ? 1 : 0}/${hb.unheard > 0 ? 1 : 0}/${hb.zone}/${hb.api}/${hb.addrs.join(',')}`
}

/** a member is unheard once no beat came straight from it for this share of its failure timeout */
export const UNHEARD_AFTER_SHARE = 3 / 8

/** how many of `members` (peer ids, self excluded) sent no beat straight to this node lately */
export function countUnheard (members: readonly string[], lastDirect: ReadonlyMap<string, number>, failAfterMs: (peer: string) => number, nowMs: number): number {
  let n = 0
  for (const m of members) {
    const at = lastDirect.get(m)
    if (at === undefined || nowMs - at > failAfterMs(m) * UNHEARD_AFTER_SHARE) n++
  }
  return n
}

export class HeartbeatRelay {
  /** per author: the news key of the last beat passed on */
  private readonly last = new Map<string, string>()

  /** whether to pass this accepted beat of `author` on: news, or some live member misses members */
  decide (author: string, key: string, someoneMisses: boolean): boolean {
    if (!someoneMisses && this.last.get(author) === key) return false
    this.last.set(author, key)
    return true
  }

  /** members the view forgot: their state goes with them (bounded by the view's members) */
  forget (authors: readonly string[]): void {
    for (const a of authors) this.last.delete(a)
  }

  get size (): number { return this.last.size }
}
