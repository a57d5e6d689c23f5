// The anti-entropy stream adds a learned record to the node's set only once the node stored
// it: a session whose store fails leaves those records un-held, and the next session with
// the same peer fetches them again. Two real libp2p hosts running AntiEntropyService; each
// node's store is an in-memory log whose appends can be made to fail. Peers on 127.0.2.50-53.
import { afterEach, describe, expect, it } from 'vitest'
import pino from 'pino'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { multiaddr } from '@multiformats/multiaddr'
import { createHost, type Host } from '../../src/net/host.js'
import { AntiEntropyService, type AeHandler, type SessionReport } from '../../src/net/aeService.js'
import { ReconSet } from '../../src/antientropy/reconSet.js'
import { makeRecords } from '../../src/antientropy/simulate.js'
import { recordHash, type DeleteRec } from '../../src/tombstones/record.js'
import { freePort, waitFor } from '../helpers/inproc.js'

const log = pino({ level: 'silent' })
const hosts: Host[] = []
const services: AntiEntropyService[] = []

afterEach(async () => {
  for (const s of services.splice(0)) await s.stop().catch(() => {})
  for (const h of hosts.splice(0)) {
    try { await h.stop() } catch {}
  }
})

/** a node's anti-entropy side: a set mirroring a log; `failNext` appends reject */
interface Node { host: Host, ae: AntiEntropyService, set: ReconSet, held: Map<bigint, DeleteRec>, failNext: number }

async function node (ip: string, recs: DeleteRec[]): Promise<Node> {
  const privateKey = await generateKeyPair('Ed25519')
  const host = await createHost({ privateKey, listen: `${ip}:${await freePort(ip)}`, bootstrap: [] })
  hosts.push(host)
  const n = { host, set: ReconSet.from(recs), held: new Map(recs.map((r) => [recordHash(r), r])), failNext: 0 } as Node
  const handler: AeHandler = {
    set: n.set,
    ingest: async (learned) => {
      await new Promise((resolve) => setImmediate(resolve))
      if (n.failNext > 0) {
        n.failNext--
        throw new Error('ENOSPC: no space left on device, write')
      }
      for (const r of learned) {
        const h = recordHash(r)
        if (n.held.has(h)) continue
        n.held.set(h, r)
        n.set.add(r, h)
      }
    }
  }
  n.ae = new AntiEntropyService({ host, handler, logger: log })
  services.push(n.ae)
  await n.ae.start()
  await host.start()
  return n
}

const sorted = (hs: Iterable<bigint>): bigint[] => Array.from(BigUint64Array.from(hs).sort())

describe('anti-entropy over a stream holds only what the node stored', { timeout: 60_000 }, () => {
  for (const [lacking, ips] of [['initiator', ['127.0.2.50', '127.0.2.51']], ['responder', ['127.0.2.52', '127.0.2.53']]] as const) {
    it(`${lacking} whose store fails: the records stay un-held, the next session fetches them`, async () => {
      const all = makeRecords(3000, 77)
      const partial = [...all.slice(0, 1000), ...all.slice(1500)]
      const full = await node(ips[0], all)
      const short = await node(ips[1], partial)
      const [a, b] = lacking === 'initiator' ? [short, full] : [full, short]
      await a.host.dial(multiaddr(b.host.getMultiaddrs()[0].toString()))
      short.failNext = 1

      // sync() returns when the initiator's side ends; the responder may still be storing the last frame
      const sync = async (): Promise<SessionReport> => {
        const r = await a.ae.sync(b.host.peerId.toString())
        await waitFor(() => b.ae.totals.started === b.ae.totals.completed + b.ae.totals.failed, 10_000, "the responder's session to end")
        return r
      }
      const first = await sync()
      // the failed store, and nothing else, ended the session (the responder's failure reaches the initiator as a peer error)
      const stored = 'could not store \\d+ learned records: ENOSPC: no space left on device, write'
      expect(first.error).toMatch(new RegExp(`^${lacking === 'initiator' ? '' : 'peer error: '}${stored}$`))
      // the set claims exactly what the node stored
      expect(sorted([...short.set.records()].map(recordHash))).toEqual(sorted(short.held.keys()))
      expect(short.held.size).toBeLessThan(all.length)

      const second = await sync()
      expect(second.error).toBeUndefined()
      expect(sorted(short.held.keys())).toEqual(sorted(all.map(recordHash)))
      expect(sorted([...short.set.records()].map(recordHash))).toEqual(sorted(all.map(recordHash)))
    })
  }
})
