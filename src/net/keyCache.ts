// Ed25519 signing and verification with the node:crypto key objects kept, instead of one
// imported per call. @libp2p/crypto (5.x, Node build) turns the raw key into a KeyObject
// through a JWK import on every sign and every verify; the profile of an idle node of ten
// (issue 14) spent about a third of its verification time in that import, and each gossiped
// message we publish paid a private-key import. Installed once per process on the prototypes
// of libp2p's Ed25519 key classes (they are not exported, so they are reached through a
// key instance); same inputs, same answers, same errors.
import { createPrivateKey, createPublicKey, sign as cryptoSign, verify as cryptoVerify, type KeyObject } from 'node:crypto'
import type { PrivateKey } from '@libp2p/interface'

/** distinct public keys kept: far above any cluster's member count; past it the oldest goes */
export const MAX_CACHED_KEYS = 4096

const PUBLIC_KEY_BYTES = 32
const PRIVATE_KEY_BYTES = 64
const SIGNATURE_BYTES = 64

interface Bytes { subarray: () => Uint8Array }
type Verify = (data: Uint8Array | Bytes, sig: Uint8Array, options?: { signal?: AbortSignal }) => boolean | Promise<boolean>
type Sign = (data: Uint8Array | Bytes, options?: { signal?: AbortSignal }) => Uint8Array | Promise<Uint8Array>

const publicKeys = new Map<string, KeyObject>()
const privateKeys = new Map<string, KeyObject>()
let installed = false

function b64url (b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64url')
}

function remember (cache: Map<string, KeyObject>, id: string, make: () => KeyObject): KeyObject {
  let k = cache.get(id)
  if (k === undefined) {
    k = make()
    if (cache.size >= MAX_CACHED_KEYS) cache.delete(cache.keys().next().value!)
    cache.set(id, k)
  }
  return k
}

export function publicKeyObject (raw: Uint8Array): KeyObject {
  const x = b64url(raw)
  return remember(publicKeys, x, () => createPublicKey({ format: 'jwk', key: { crv: 'Ed25519', x, kty: 'OKP' } }))
}

function privateKeyObject (raw: Uint8Array): KeyObject {
  const d = b64url(raw.subarray(0, 32))
  const x = b64url(raw.subarray(32))
  return remember(privateKeys, d + x, () => createPrivateKey({ format: 'jwk', key: { crv: 'Ed25519', d, x, kty: 'OKP' } }))
}

function flat (data: Uint8Array | Bytes): Uint8Array {
  return data instanceof Uint8Array ? data : data.subarray()
}

/**
 * Patches the Ed25519 key classes of the given key (the node's own peer key) once; a key of
 * another type changes nothing. Keys of unusual sizes keep the library's own code path (and
 * its errors).
 */
export function installKeyCache (key: PrivateKey): void {
  if (installed || key.type !== 'Ed25519') return
  installed = true
  const privProto = Object.getPrototypeOf(key) as { sign: Sign }
  const pubProto = Object.getPrototypeOf(key.publicKey) as { verify: Verify }
  const libVerify = pubProto.verify
  const libSign = privProto.sign
  pubProto.verify = function (this: { raw: Uint8Array }, data, sig, options) {
    if (this.raw?.byteLength !== PUBLIC_KEY_BYTES || !(sig instanceof Uint8Array) || sig.byteLength !== SIGNATURE_BYTES) return libVerify.call(this, data, sig, options)
    options?.signal?.throwIfAborted()
    return cryptoVerify(null, flat(data), publicKeyObject(this.raw), sig)
  }
  privProto.sign = function (this: { raw: Uint8Array }, data, options) {
    if (this.raw?.byteLength !== PRIVATE_KEY_BYTES) return libSign.call(this, data, options)
    options?.signal?.throwIfAborted()
    const sig = cryptoSign(null, flat(data), privateKeyObject(this.raw))
    options?.signal?.throwIfAborted()
    return sig
  }
}
