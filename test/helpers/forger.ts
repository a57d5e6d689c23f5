// A cluster member that lies: a real libp2p host holding the cluster's swarm key (so it gets
// in, as any key holder would), which publishes hand-made heartbeats on the members topic —
// signed by itself, so they pass gossipsub's signature check and reach the node's validator —
// and sends hand-made object frames over /bellwether/obj/1.0.0. It registers no bellwether
// protocol of its own. Used by test/integration/forged.test.ts (issue 11, parts 2 and 3).
import { create, fromBinary, toBinary } from '@bufbuild/protobuf'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { HeartbeatSchema, LogSummarySchema, ObjRequestSchema, ObjResponseSchema, PutObjectSchema, type ObjResponse } from '../../src/wire/bellwether_pb.js'
import { createHost, type Host } from '../../src/net/host.js'
import { exchange } from '../../src/net/framing.js'
import { OBJ_PROTOCOL, TOPIC_MEMBERS } from '../../src/net/constants.js'
import { makeHlc } from '../../src/hlc.js'

export type HeartbeatFields = Parameters<typeof create<typeof HeartbeatSchema>>[1]

export class Forger {
  private constructor (readonly host: Host, readonly peerId: string, readonly ip: string, readonly port: number) {}

  /** a host on ip:port connected to every one of `nodes` (full multiaddrs), subscribed to by them */
  static async start (ip: string, port: number, swarmKey: Uint8Array, nodes: string[]): Promise<Forger> {
    const privateKey = await generateKeyPair('Ed25519')
    const host = await createHost({ privateKey, listen: `${ip}:${port}`, bootstrap: [], swarmKey })
    await host.start()
    const f = new Forger(host, peerIdFromPrivateKey(privateKey).toString(), ip, port)
    for (const n of nodes) await host.dial(multiaddr(n), { signal: AbortSignal.timeout(10_000) })
    const deadline = Date.now() + 30_000
    while (host.services.pubsub.getSubscribers(TOPIC_MEMBERS).length < nodes.length) {
      if (Date.now() > deadline) throw new Error(`forger ${ip}: the nodes never subscribed to ${TOPIC_MEMBERS}`)
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    return f
  }

  /** an honest-looking heartbeat of this forger, with `over` changed */
  heartbeat (over: HeartbeatFields = {}): Uint8Array {
    return toBinary(HeartbeatSchema, create(HeartbeatSchema, {
      peerId: this.peerId,
      addrs: [`/ip4/${this.ip}/tcp/${this.port}`],
      zone: 4242,
      api: `http://${this.ip}:${this.port + 1}`,
      epoch: 1n,
      membersHash: 1n,
      memberCount: 1,
      log: create(LogSummarySchema, {}),
      hlc: makeHlc(Date.now()),
      incarnation: 1n,
      ...over
    }))
  }

  async publish (bytes: Uint8Array): Promise<void> {
    await this.host.services.pubsub.publish(TOPIC_MEMBERS, bytes)
  }

  /** one object request, as the object service sends it; the node's answer */
  async put (node: string, put: { oid: bigint, generation: number, version: bigint, data: Uint8Array }): Promise<ObjResponse> {
    const signal = AbortSignal.timeout(15_000)
    const stream = await this.host.dialProtocol(peerIdFromString(node), OBJ_PROTOCOL, { signal })
    const request = toBinary(ObjRequestSchema, create(ObjRequestSchema, { hlc: 0n, op: { case: 'put', value: create(PutObjectSchema, put) } }))
    for await (const frame of exchange(stream, request, signal)) return fromBinary(ObjResponseSchema, frame)
    throw new Error(`${node} closed the object stream without answering`)
  }

  async stop (): Promise<void> {
    await this.host.stop()
  }
}
