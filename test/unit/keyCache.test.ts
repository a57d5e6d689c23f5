// src/net/keyCache.ts and src/net/fastMsgId.ts (issue 14). The patched Ed25519 sign/verify give the library's answers (valid,
// tampered data, another key's signature, Uint8ArrayList input) and keep one key object per key.
import { describe, expect, it } from 'vitest'
import { generateKeyPair, publicKeyFromRaw } from '@libp2p/crypto/keys'
import { Uint8ArrayList } from 'uint8arraylist'
import { installKeyCache, publicKeyObject } from '../../src/net/keyCache.js'

describe('ed25519 key cache', () => {
  it('signs and verifies as the library does, with one key object per key', async () => {
    const a = await generateKeyPair('Ed25519')
    const b = await generateKeyPair('Ed25519')
    const msg = new TextEncoder().encode('heartbeat')
    const before = await a.sign(msg)
    installKeyCache(a)
    const after = await a.sign(msg)
    // ed25519 is deterministic: the cached key signs the same bytes the same way
    expect(Buffer.from(after).equals(Buffer.from(before))).toBe(true)
    const pub = publicKeyFromRaw(a.publicKey.raw)
    expect(await pub.verify(msg, after)).toBe(true)
    expect(await pub.verify(new Uint8ArrayList(msg.subarray(0, 4), msg.subarray(4)), after)).toBe(true)
    expect(await pub.verify(new TextEncoder().encode('heartbeaT'), after)).toBe(false)
    expect(await b.publicKey.verify(msg, after)).toBe(false)
    expect(await b.publicKey.verify(msg, await b.sign(msg))).toBe(true)
    expect(publicKeyObject(a.publicKey.raw)).toBe(publicKeyObject(pub.raw))
    // a malformed signature keeps the library's own path and error
    expect(() => pub.verify(msg, new Uint8Array(10))).toThrow(TypeError)
  })
})

describe('gossipsub fast message id', () => {
  it('one id per (topic, author, seqno); no two different triples collide', async () => {
    const { fastMsgId } = await import('../../src/net/fastMsgId.js')
    const m = (topic: string, from: number[], seqno: number[]): string => fastMsgId({ topic, from: Uint8Array.from(from), seqno: Uint8Array.from(seqno) })
    expect(m('t', [1, 2], [3])).toBe(m('t', [1, 2], [3]))
    expect(m('t', [1, 2], [3])).not.toBe(m('t', [1], [2, 3]))
    expect(m('t1', [2], [3])).not.toBe(m('t', [1, 2], [3]))
    expect(m('t', [1, 2], [3])).not.toBe(m('u', [1, 2], [3]))
  })
})
