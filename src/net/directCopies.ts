// Which authors' messages on one topic reach this node straight from the author. Every copy
// counts, duplicates included: gossipsub validates only the first copy of a message, and under
// load the first may be a forwarded one although the author's own copy arrives as well. So this
// looks at each RPC as it comes in, before gossipsub's duplicate filter, by wrapping the
// gossipsub instance's RPC handler (gossipsub 14.1.2, pinned in package.json). A pubsub without
// that handler (floodsub, the bench's baseline) reports nothing, and membership then counts
// every member as heard only through others, which relays every heartbeat (the old behaviour).
import type { PeerId } from '@libp2p/interface'
import { equals } from 'uint8arrays/equals'

interface RpcIn { messages?: Array<{ topic?: string, from?: Uint8Array }> }
type RpcHandler = (from: PeerId, rpc: RpcIn) => Promise<void>

/**
 * Calls `onDirect(author)` for every incoming RPC that carries a message of `topic` signed by
 * the peer that sent it. Returns a function that undoes the wrapping, or undefined when this
 * pubsub cannot be watched.
 */
export function watchDirectCopies (pubsub: unknown, topic: string, onDirect: (author: string) => void): (() => void) | undefined {
  const ps = pubsub as { handleReceivedRpc?: RpcHandler }
  const inner = ps.handleReceivedRpc
  if (typeof inner !== 'function') return undefined
  const wrapped: RpcHandler = async function (this: unknown, from, rpc) {
    try {
      const own = from.toMultihash().bytes
      for (const m of rpc.messages ?? []) {
        if (m.topic === topic && m.from !== undefined && equals(m.from, own)) {
          onDirect(from.toString())
          break
        }
      }
    } catch {
      // a malformed RPC is gossipsub's to judge; watching it must never keep it from that
    }
    return await inner.call(this, from, rpc)
  }
  ps.handleReceivedRpc = wrapped
  return () => { if (ps.handleReceivedRpc === wrapped) ps.handleReceivedRpc = inner }
}
