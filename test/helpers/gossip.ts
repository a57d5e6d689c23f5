// For tests in which anti-entropy, not gossip, must carry a delete record to a node that missed
// it: gossipsub keeps a message in a node's cache for GOSSIP_MCACHE_LENGTH of that node's
// heartbeats, and a peer that (re)connects meanwhile can still fetch it (IHAVE/IWANT, sent while
// some member misses members: src/net/lazyGossip.ts). Once
// every node holding the message has run that many heartbeats since it got it, gossip can no
// longer deliver it to anyone. Works for in-process and process nodes alike (GET /metrics).
import { GOSSIP_MCACHE_LENGTH } from '../../src/net/constants.js'

/** bw_gossip_heartbeats_total of the node behind `apiUrl` */
export async function gossipHeartbeats (apiUrl: string): Promise<number> {
  const text = await (await fetch(`${apiUrl}/metrics`, { signal: AbortSignal.timeout(5000) })).text()
  const m = /^bw_gossip_heartbeats_total (\d+)$/m.exec(text)
  if (m == null) throw new Error(`no bw_gossip_heartbeats_total in ${apiUrl}/metrics`)
  return Number(m[1])
}

/**
 * Call once every node that may hold the message (its publisher and every node that received
 * it) has it; resolves when each of `apiUrls` has run more than GOSSIP_MCACHE_LENGTH further
 * heartbeats, so no cache holds the message any more.
 */
export async function outlastGossipCache (apiUrls: string[], timeoutMs = 60_000): Promise<void> {
  const from = await Promise.all(apiUrls.map(gossipHeartbeats))
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const now = await Promise.all(apiUrls.map(gossipHeartbeats))
    if (now.every((n, k) => n - from[k]! > GOSSIP_MCACHE_LENGTH)) return
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${GOSSIP_MCACHE_LENGTH + 1} gossip heartbeats on ${apiUrls.join(', ')}: ran ${now.map((n, k) => n - from[k]!).join(', ')}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}
