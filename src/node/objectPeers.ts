// Which peers identify showed serving the object protocol: only those (and this node) are
// placement targets. Why not every live member: membership comes from signed heartbeats,
// which any holder of the swarm key can publish, relayed by gossip — a voice, not proof that
// the signer can store anything. A heartbeat alone (with a new zone, it is picked for most
// objects, as replicas go to distinct zones) made its signer a replica target that every
// write then failed on. Identify runs on every connection, so a real node is confirmed within
// a round trip of connecting, usually before its first heartbeat arrives; confirmation stays
// for the process's life (a node that dies leaves the view, a restart is identified again).
import { peerIdFromString } from '@libp2p/peer-id'
import type { Connection } from '@libp2p/interface'
import type { Logger } from 'pino'
import type { Host } from '../net/host.js'
import { DIAL_TIMEOUT_MS, OBJ_PROTOCOL } from '../net/constants.js'

export class ObjectPeers {
  /** one entry per swarm-key holder ever seen serving objects */
  private readonly seen = new Set<string>()
  private confirming = false

  /** `confirmed(peer)`: a peer was newly seen serving objects (placement may change) */
  constructor (private readonly host: Host, private readonly log: Logger, confirmed: (peer: string) => void) {
    host.addEventListener('peer:identify', (evt) => {
      try {
        const id = evt.detail.peerId.toString()
        if (this.seen.has(id) || !evt.detail.protocols.includes(OBJ_PROTOCOL)) return
        this.seen.add(id)
        confirmed(id)
      } catch (err) {
        this.log.error({ err: String((err as Error)?.stack ?? err) }, 'placement update after identify failed')
      }
    })
  }

  has (peer: string): boolean { return this.seen.has(peer) }

  /**
   * Live members not yet seen serving the object protocol are identified again over a
   * connection we have: the identify that runs when a connection opens can time out on a
   * loaded machine, and a real node must not stay out of placement for that. Never throws.
   */
  async confirm (members: string[]): Promise<void> {
    if (this.confirming) return
    this.confirming = true
    try {
      const identify = this.host.services.identify as { identify?: (c: Connection, o: { signal: AbortSignal }) => Promise<unknown> }
      if (typeof identify.identify !== 'function') return
      for (const peer of members) {
        if (this.seen.has(peer)) continue
        const conn = this.host.getConnections(peerIdFromString(peer))[0]
        if (conn == null) continue
        await identify.identify(conn, { signal: AbortSignal.timeout(DIAL_TIMEOUT_MS) }).catch((err) => {
          this.log.debug({ peer, err: String((err as Error)?.message ?? err) }, 'identify of a member failed')
        })
      }
    } catch (err) {
      this.log.warn({ err: String((err as Error)?.message ?? err) }, 'confirming members failed')
    } finally {
      this.confirming = false
    }
  }
}
