// Application-level partitions for tests without root: a connection gater that refuses
// listed peers in both directions, plus hanging up on them when the partition starts.
// The OS-level (nftables) partition keeps the same interface: a set of peers cut off.
import type { ConnectionGater, PeerId } from '@libp2p/interface'
import type { Host } from './host.js'

export class AppPartition {
  /** peer ids (strings) this node must not talk to; a handful at most, so a Set is fine */
  private readonly blocked = new Set<string>()

  gater (): ConnectionGater {
    const deny = (peer: PeerId): boolean => this.blocked.has(peer.toString())
    return {
      denyDialPeer: deny,
      denyInboundEncryptedConnection: deny,
      denyOutboundEncryptedConnection: deny
    }
  }

  get peers (): string[] { return [...this.blocked].sort() }

  isBlocked (peer: string): boolean { return this.blocked.has(peer) }

  /** cut this node off from `peers` (replacing any previous partition) and hang up on them */
  async apply (host: Host, peers: string[]): Promise<void> {
    this.blocked.clear()
    for (const p of peers) this.blocked.add(p)
    await Promise.all(host.getConnections()
      .filter((c) => this.blocked.has(c.remotePeer.toString()))
      .map(async (c) => { await c.close().catch(() => { c.abort(new Error('partitioned')) }) }))
  }

  heal (): void {
    this.blocked.clear()
  }
}
