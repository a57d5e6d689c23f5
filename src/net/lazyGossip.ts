// Whether gossipsub sends IHAVE gossip, switched at run time. Gossipsub takes its gossip target
// count (Dlazy) once, at construction, and reads it again from its options object on every
// heartbeat (gossipsub 14.1.2, pinned in package.json); this sets that field. Membership turns
// IHAVE on while some member misses members and off in a whole cluster, where every message
// already reaches every member from its publisher (src/net/constants.ts GOSSIP_D_LAZY). A pubsub
// without that option (floodsub, the bench's baseline) has no IHAVE to switch.

interface LazyOpts { opts?: { Dlazy?: unknown } }

/**
 * Returns a switch: on, gossipsub sends IHAVE to `targets` peers a heartbeat; off, to none.
 * Undefined when this pubsub has no such setting.
 */
export function lazyGossipSwitch (pubsub: unknown, targets: number): ((on: boolean) => void) | undefined {
  const opts = (pubsub as LazyOpts | undefined)?.opts
  if (opts == null || typeof opts.Dlazy !== 'number') return undefined
  return (on) => { opts.Dlazy = on ? targets : 0 }
}
