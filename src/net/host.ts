// Builds the libp2p host: TCP bound to the node's own loopback address for listening AND
// dialing (so chaos tools can cut address pairs), noise, yamux, identify, ping, gossipsub
// tuned for many co-located nodes. Nothing here knows about objects or deletes.
import '../polyfill.js'
import { createLibp2p, type Libp2p } from 'libp2p'
import { tcp, type TCPSocketOptions } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { bootstrap } from '@libp2p/bootstrap'
import { gossipsub, type GossipSub } from '@chainsafe/libp2p-gossipsub'
import { floodsub } from '@libp2p/floodsub'
import type { ConnectionGater, PrivateKey, PubSub } from '@libp2p/interface'
import { preSharedKey } from '@libp2p/pnet'
import { createTopicScoreParams } from '@chainsafe/libp2p-gossipsub/score'
import { fastMsgId } from './fastMsgId.js'
import { installKeyCache } from './keyCache.js'
import { installYamuxWindowRule } from './yamuxWindow.js'
import {
  DELETES_INVALID_MESSAGE_WEIGHT, GOSSIP_D, GOSSIP_D_HI, GOSSIP_D_LAZY, GOSSIP_D_LO, GOSSIP_FACTOR, GOSSIP_HEARTBEAT_MS,
  GOSSIP_MCACHE_LENGTH, INVALID_MESSAGE_DECAY, MEMBERS_INVALID_MESSAGE_WEIGHT, PNET_HANDSHAKE_MS, TOPIC_DELETES, TOPIC_MEMBERS
} from './constants.js'
import { splitHostPort } from './hostPort.js'

export interface HostInit {
  privateKey: PrivateKey
  /** host:port */
  listen: string
  bootstrap: string[]
  /** extra allow-list CIDRs (multiaddr form) besides loopback, e.g. for netns bridges */
  allow?: string[]
  connectionGater?: ConnectionGater
  /** benchmark baseline only: floodsub instead of gossipsub */
  pubsub?: 'gossipsub' | 'floodsub'
  /** the cluster's swarm key (src/net/swarmKey.ts): every connection is a private-network one */
  swarmKey?: Uint8Array
}

export type Services = {
  pubsub: PubSub
  identify: unknown
  ping: unknown
}
export type Host = Libp2p<Services>

export { splitHostPort }

/**
 * gossipsub penalises a peer for a message our validator rejects only on topics that have
 * score parameters: the members topic scores invalid messages and nothing else (mesh delivery
 * rates would penalise honest nodes on a topic that carries one message a second per node)
 */
/** topic score parameters that penalise rejected messages (gossipsub's P4) and nothing else */
function rejectOnlyScore (weight: number): ReturnType<typeof createTopicScoreParams> {
  return createTopicScoreParams({
    topicWeight: 1,
    timeInMeshWeight: 0,
    firstMessageDeliveriesWeight: 0,
    meshMessageDeliveriesWeight: 0,
    meshFailurePenaltyWeight: 0,
    invalidMessageDeliveriesWeight: weight,
    invalidMessageDeliveriesDecay: INVALID_MESSAGE_DECAY
  })
}

export async function createHost (init: HostInit): Promise<Host> {
  // one key import per key, not per signature (src/net/keyCache.ts)
  installKeyCache(init.privateKey)
  // window updates at half the window, not one per incoming message (src/net/yamuxWindow.ts)
  installYamuxWindowRule()
  const { host, port } = splitHostPort(init.listen)
  const pubsub = init.pubsub === 'floodsub'
    ? floodsub()
    : gossipsub({
      allowPublishToZeroTopicPeers: false,
      emitSelf: false,
      heartbeatInterval: GOSSIP_HEARTBEAT_MS,
      // duplicates dropped before their signature is checked (src/net/fastMsgId.ts)
      fastMsgIdFn: fastMsgId,
      mcacheLength: GOSSIP_MCACHE_LENGTH,
      // co-located peers share one IP; the default colocation penalty starves meshes past ~10 nodes
      // per topic only P4 (invalid messages): a validator's Reject costs the forwarder score;
      // the other components are off, so quiet topics never penalise honest peers
      scoreParams: { IPColocationFactorWeight: 0, topics: { [TOPIC_MEMBERS]: rejectOnlyScore(MEMBERS_INVALID_MESSAGE_WEIGHT), [TOPIC_DELETES]: rejectOnlyScore(DELETES_INVALID_MESSAGE_WEIGHT) } },
      D: GOSSIP_D,
      Dlo: GOSSIP_D_LO,
      Dhi: GOSSIP_D_HI,
      Dlazy: GOSSIP_D_LAZY,
      gossipFactor: GOSSIP_FACTOR,
      Dout: 2,
      doPX: false
    })
  const node = await createLibp2p({
    privateKey: init.privateKey,
    addresses: { listen: [`/ip4/${host}/tcp/${port}`] },
    // dialOpts are spread into net.connect(); localAddress is not in the type but is honoured
    transports: [tcp({ dialOpts: { localAddress: host, noDelay: true } as TCPSocketOptions, listenOpts: { noDelay: true } })],
    ...(init.swarmKey !== undefined ? { connectionProtector: preSharedKey({ psk: init.swarmKey, timeout: PNET_HANDSHAKE_MS }) } : {}),
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    peerDiscovery: init.bootstrap.length > 0 ? [bootstrap({ list: init.bootstrap, timeout: 0 })] : [],
    connectionGater: {
      // loopback (and our own namespaces) are the only networks bellwether uses
      denyDialMultiaddr: () => false,
      ...(init.connectionGater ?? {})
    },
    // off: it pings every connection every 10 s on a new stream, a cost per node that grows
    // with the cluster; a silent member's connection is hung up by membership instead
    // (STALE_CONNECTION_MS), which a cut that drops packets needs anyway
    connectionMonitor: { enabled: false },
    connectionManager: {
      // without this, inbound connections from one IP are rate limited to 5/s
      allow: ['/ip4/127.0.0.0/ipcidr/8', ...(init.allow ?? [])],
      maxConnections: 400
    },
    services: {
      pubsub: pubsub as any,
      identify: identify(),
      ping: ping()
    }
  })
  return node as unknown as Host
}

export function asGossipSub (host: Host): GossipSub | undefined {
  const ps = host.services.pubsub as unknown as { getMeshPeers?: unknown }
  return typeof ps.getMeshPeers === 'function' ? ps as unknown as GossipSub : undefined
}

/** what the libp2p host looks like at scrape time, for /metrics */
export interface HostState {
  /** gossipsub mesh peers per topic */
  mesh: Array<{ topic: string, peers: number }>
  connections: number
  /** open streams by protocol id */
  streams: Map<string, number>
}

/** mesh peers per topic, connections and open streams by protocol */
export function hostState (host: Host): HostState {
  const gs = asGossipSub(host)
  const mesh = gs == null ? [] : gs.getTopics().map((topic) => ({ topic, peers: gs.getMeshPeers(topic).length }))
  const conns = host.getConnections()
  const streams = new Map<string, number>()
  for (const c of conns) {
    for (const st of c.streams) {
      const p = st.protocol ?? 'negotiating'
      streams.set(p, (streams.get(p) ?? 0) + 1)
    }
  }
  return { mesh, connections: conns.length, streams }
}
