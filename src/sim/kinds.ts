// Event kinds of the simulator's queue, in one place. Messages (a = from, b = to, d = the
// receiver's life when sent) are delivered through the network; timers (a = node, d = the
// node's life when set) are dropped when the node restarted since; world events drive faults,
// the workload and the invariant checks.

// messages
export const HEARTBEAT = 1
export const GRAFT = 2
export const PRUNE = 3
/** a gossip message: c = message id, e = hops so far */
export const GOSSIP = 4
export const IHAVE = 5
export const IWANT = 6
/** an anti-entropy frame: c = session id, e = frame number */
export const AE_FRAME = 7
/** recovery: ask for the sender's copies of objects both are placed on; c = request id */
export const LIST_REQ = 8
export const LIST_RESP = 9

// node timers
export const T_HEARTBEAT = 20
export const T_GOSSIP = 21
export const T_GC = 22
export const T_RECOVERY = 23
export const T_SESSION = 24
export const T_AE_PUMP = 25

// world events
export const W_TICK = 40
export const W_PARTITION = 41
export const W_HEAL = 42
export const W_CRASH = 43
export const W_RESTART = 44
export const W_DELETE = 45
export const W_WRITE = 46

export function isMessage (kind: number): boolean {
  return kind < T_HEARTBEAT
}
