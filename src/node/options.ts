// What `bellwether node start` accepts; the CLI parses flags into this, tests build it directly.
export interface NodeOptions {
  /** data dir: objects, delete log, peer key */
  dataDir: string
  /** libp2p TCP listen address host:port; the host is also the dial source address */
  listen: string
  /** admin HTTP API host:port (loopback) */
  api: string
  /** full multiaddrs with /p2p/<peer id> */
  bootstrap: string[]
  /** failure domain; replicas go to distinct zones. Default: derived from the listen address */
  zone?: number
  /** default copies for VDIs created through this node */
  copies?: number
  /** pino level */
  logLevel?: string
  /** added to the node's wall clock, for clock-skew chaos */
  clockOffsetMs?: number
  /** a member silent this long leaves the membership for good, so the GC horizon can advance (default 24 h) */
  evictAfterMs?: number
  /** recovery transfers in flight at once (default 8) */
  recoveryParallel?: number
  /** recovery byte rate over all transfers, bytes/s; 0 = unthrottled (default 64 MiB/s) */
  recoveryRate?: number
  /** heartbeats each node receives per second: the heartbeat period and failure timeout stretch with the
   *  member count to keep it there (default HEARTBEATS_PER_SEC); 0: a beat a second whatever the size (benchmark baseline) */
  heartbeatsPerSec?: number
  /** benchmark baseline only: floodsub instead of gossipsub */
  pubsub?: 'gossipsub' | 'floodsub'
  /** the cluster's swarm key (pnet); absent: an open network anyone on it can join */
  swarmKey?: Uint8Array
  /** admin API token; absent: the node keeps its own in DATA/api.token */
  apiToken?: string
  /** serve /chaos/* (partition, heal, clock skew): only chaos runs and tests want them */
  enableChaos?: boolean
}

export interface RunningNode {
  readonly peerId: string
  readonly apiUrl: string
  readonly multiaddrs: string[]
  stop (): Promise<void>
}
