// The heartbeat relay rules (src/membership/relay.ts) and the direct-copy watcher
// (src/net/directCopies.ts): a beat goes on to the mesh only when it is news or while some live
// member misses members; a member is unheard once no copy came straight from it for 3/8 of its
// failure timeout; copies count as straight from the author only when the sending peer signed them.
import { describe, expect, it } from 'vitest'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { PeerId } from '@libp2p/interface'
import { HeartbeatRelay, UNHEARD_AFTER_SHARE, countUnheard, newsKey } from '../../src/membership/relay.js'
import { watchDirectCopies } from '../../src/net/directCopies.js'

const beat = { epoch: 7n, membersHash: 99n, addrs: ['/ip4/127.0.0.1/tcp/1'], zone: 1, api: 'http://127.0.0.1:2', incarnation: 5n, leaving: false, unheard: 0 }

describe('heartbeat relay rules', () => {
  it('relays a member\'s first beat and every change of its membership fields, and nothing else while nobody misses members', () => {
    const r = new HeartbeatRelay()
    expect(r.decide('a', newsKey(beat), false)).toBe(true)
    expect(r.decide('a', newsKey(beat), false)).toBe(false)
    expect(r.decide('a', newsKey({ ...beat, unheard: 0 }), false)).toBe(false)
    const changes: Array<Partial<typeof beat>> = [{ epoch: 8n }, { membersHash: 98n }, { addrs: [] }, { zone: 2 }, { api: 'http://127.0.0.1:3' }, { incarnation: 6n }, { leaving: true }, { unheard: 2 }]
    let prev = beat
    for (const ch of changes) {
      const next = { ...prev, ...ch }
      expect(r.decide('a', newsKey(next), false), JSON.stringify(ch, (_, v) => typeof v === 'bigint' ? String(v) : v)).toBe(true)
      expect(r.decide('a', newsKey(next), false)).toBe(false)
      prev = next
    }
    // the count of unheard members is not news, only whether there are any
    expect(r.decide('a', newsKey({ ...prev, unheard: 5 }), false)).toBe(false)
    // another author's first beat is news of its own
    expect(r.decide('b', newsKey(beat), false)).toBe(true)
    expect(r.size).toBe(2)
  })

  it('relays every beat while some member misses members, and forgets evicted authors', () => {
    const r = new HeartbeatRelay()
    const k = newsKey(beat)
    expect(r.decide('a', k, false)).toBe(true)
    for (let i = 0; i < 5; i++) expect(r.decide('a', k, true)).toBe(true)
    expect(r.decide('a', k, false)).toBe(false)
    r.forget(['a'])
    expect(r.size).toBe(0)
    expect(r.decide('a', k, false)).toBe(true)
  })

  it('counts a member unheard once nothing came straight from it for 3/8 of its failure timeout, or never', () => {
    const fail = (p: string): number => p === 'slow' ? 40_000 : 8000
    const last = new Map([['a', 1000], ['slow', 1000]])
    const members = ['a', 'slow', 'never']
    expect(UNHEARD_AFTER_SHARE).toBe(3 / 8)
    expect(countUnheard(members, last, fail, 1000 + 3000)).toBe(1)
    expect(countUnheard(members, last, fail, 1000 + 3001)).toBe(2)
    expect(countUnheard(members, last, fail, 1000 + 15_000)).toBe(2)
    expect(countUnheard(members, last, fail, 1000 + 15_001)).toBe(3)
    expect(countUnheard([], last, fail, 1e9)).toBe(0)
  })
})

describe('direct copies', () => {
  async function peer (): Promise<PeerId> { return peerIdFromPrivateKey(await generateKeyPair('Ed25519')) }

  it('reports RPCs carrying a message of the topic signed by the peer that sent them, before the inner handler, and undoes itself', async () => {
    const [a, b] = [await peer(), await peer()]
    const handled: unknown[] = []
    const ps = { handleReceivedRpc: async (_from: PeerId, rpc: unknown): Promise<void> => { handled.push(rpc) } }
    const seen: string[] = []
    const unwatch = watchDirectCopies(ps, 'members', (author) => { seen.push(author) })
    expect(unwatch).toBeTypeOf('function')
    const own = { topic: 'members', from: a.toMultihash().bytes }
    const relayed = { topic: 'members', from: b.toMultihash().bytes }
    const otherTopic = { topic: 'deletes', from: a.toMultihash().bytes }
    await ps.handleReceivedRpc(a, { messages: [relayed] })
    await ps.handleReceivedRpc(a, { messages: [otherTopic] })
    await ps.handleReceivedRpc(a, {})
    expect(seen).toEqual([])
    await ps.handleReceivedRpc(a, { messages: [relayed, own, own] })
    expect(seen).toEqual([a.toString()])
    // malformed input is the inner handler's to judge: watching never throws nor drops it
    await ps.handleReceivedRpc(a, { messages: [{ topic: 'members', from: 'not bytes' as unknown as Uint8Array }] })
    await ps.handleReceivedRpc({ toMultihash: () => { throw new Error('bad peer') } } as unknown as PeerId, { messages: [own] })
    expect(handled).toHaveLength(6)
    unwatch!()
    await ps.handleReceivedRpc(a, { messages: [own] })
    expect(seen).toHaveLength(1)
    expect(handled).toHaveLength(7)
  })

  it('cannot watch a pubsub without gossipsub\'s RPC handler', () => {
    expect(watchDirectCopies({}, 'members', () => {})).toBeUndefined()
  })
})
