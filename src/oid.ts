// Sheepdog object id (oid) layout: construction, classification, validation, hex and
// "vid:index" text forms, and the FNV-1a hashes used for VDI naming and placement.
//
// uint64 oid: bit 63 VDI (inode) object, bit 62 vmstate, bit 61 VDI attribute,
// bits 56..60 reserved (zero), bits 32..55 vid, bits 0..31 object index.
// oids are always bigint; the "high" helpers return the top 32 bits as a JS number so
// that hot paths (idset buckets, hashing) can work on numbers instead of bigints.

export const VDI_BIT = 1n << 63n
export const VMSTATE_BIT = 1n << 62n
export const VDI_ATTR_BIT = 1n << 61n
export const MAX_VID = 0xffffff
export const MAX_INDEX = 0xffffffff
export const U64_MAX = (1n << 64n) - 1n

/** The same flags as they appear in oidHigh(oid). */
export const HIGH_VDI_BIT = 0x80000000
export const HIGH_VMSTATE_BIT = 0x40000000
export const HIGH_VDI_ATTR_BIT = 0x20000000
export const HIGH_FLAG_MASK = 0xe0000000
export const HIGH_RESERVED_MASK = 0x1f000000

export class OidError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'OidError'
  }
}

const TWO32 = 0x100000000

/** Throws OidError unless vid is an integer in 0..MAX_VID; returns it. */
export function assertVid (vid: number): number {
  if (!Number.isInteger(vid) || vid < 0 || vid > MAX_VID) {
    throw new OidError(`invalid vid ${String(vid)}: must be an integer in 0..0xffffff`)
  }
  return vid
}

const checkVid = assertVid

function checkIndex (idx: number, what = 'object index'): void {
  if (!Number.isInteger(idx) || idx < 0 || idx > MAX_INDEX) {
    throw new OidError(`invalid ${what} ${String(idx)}: must be an integer in 0..0xffffffff`)
  }
}

function checkU64 (oid: bigint): void {
  if (typeof oid !== 'bigint' || oid < 0n || oid > U64_MAX) {
    throw new OidError(`invalid oid ${String(oid)}: not a uint64`)
  }
}

function fromHighLow (high: number, low: number): bigint {
  return (BigInt(high) << 32n) | BigInt(low)
}

export function vidToVdiOid (vid: number): bigint {
  checkVid(vid)
  return fromHighLow((HIGH_VDI_BIT | vid) >>> 0, 0)
}

export function vidToDataOid (vid: number, idx: number): bigint {
  checkVid(vid)
  checkIndex(idx)
  return fromHighLow(vid, idx)
}

export function vidToVmstateOid (vid: number, idx: number): bigint {
  checkVid(vid)
  checkIndex(idx)
  return fromHighLow((HIGH_VMSTATE_BIT | vid) >>> 0, idx)
}

export function vidToAttrOid (vid: number, attrId: number): bigint {
  checkVid(vid)
  checkIndex(attrId, 'attribute id')
  return fromHighLow((HIGH_VDI_ATTR_BIT | vid) >>> 0, attrId)
}

/** High 32 bits as an unsigned number: flags, reserved bits and vid. Assumes a uint64. */
export function oidHigh (oid: bigint): number {
  return Number(oid >> 32n)
}

export function oidToVid (oid: bigint): number {
  return oidHigh(oid) & MAX_VID
}

export function oidToIndex (oid: bigint): number {
  return Number(BigInt.asUintN(32, oid))
}

/** Validity of an oid given only its high 32 bits (no bigint work). */
export function isValidHigh (high: number): boolean {
  if (!Number.isInteger(high) || high < 0 || high >= TWO32) return false
  if ((high & HIGH_RESERVED_MASK) !== 0) return false
  const flags = (high & HIGH_FLAG_MASK) >>> 0
  // at most one flag bit: zero, or a power of two
  return (flags & (flags - 1)) === 0
}

export function isValidOid (oid: bigint): boolean {
  if (typeof oid !== 'bigint' || oid < 0n || oid > U64_MAX) return false
  return isValidHigh(oidHigh(oid))
}

export function assertOid (oid: bigint): bigint {
  if (typeof oid !== 'bigint' || oid < 0n || oid > U64_MAX) {
    throw new OidError(`invalid oid ${String(oid)}: not a uint64`)
  }
  const high = oidHigh(oid)
  if ((high & HIGH_RESERVED_MASK) !== 0) {
    throw new OidError(`invalid oid ${formatOid(oid)}: reserved bits 56..60 are set`)
  }
  if (!isValidHigh(high)) {
    throw new OidError(`invalid oid ${formatOid(oid)}: more than one of the VDI/vmstate/attr flags is set`)
  }
  return oid
}

export function isVdiObj (oid: bigint): boolean {
  return isValidOid(oid) && (oidHigh(oid) & HIGH_VDI_BIT) !== 0
}

export function isVmstateObj (oid: bigint): boolean {
  return isValidOid(oid) && (oidHigh(oid) & HIGH_VMSTATE_BIT) !== 0
}

export function isVdiAttrObj (oid: bigint): boolean {
  return isValidOid(oid) && (oidHigh(oid) & HIGH_VDI_ATTR_BIT) !== 0
}

export function isDataObj (oid: bigint): boolean {
  return isValidOid(oid) && (oidHigh(oid) & HIGH_FLAG_MASK) === 0
}

/** 16 lowercase hex digits. Accepts any uint64 (also invalid layouts, for error messages). */
export function formatOid (oid: bigint): string {
  checkU64(oid)
  return oid.toString(16).padStart(16, '0')
}

const OID_HEX_RE = /^(?:0[xX])?([0-9a-fA-F]{16})$/
const VID_HEX_RE = /^(?:0[xX])?([0-9a-fA-F]{1,6})$/
const INDEX_RE = /^(?:0[xX]([0-9a-fA-F]{1,8})|([0-9]{1,10}))$/

function quote (s: string): string {
  return JSON.stringify(s.length > 64 ? s.slice(0, 64) + '…' : s).slice(1, -1)
}

/**
 * Accepts exactly 16 hex digits (optional 0x), or "vid:index" naming a data object, with vid
 * in hex (1..6 digits, optional 0x) and index in decimal or 0x-prefixed hex. Requiring all
 * 16 digits keeps a short hex string from being silently read as a tiny oid when a vid was meant.
 */
export function parseOid (s: string): bigint {
  if (typeof s !== 'string') throw new OidError(`invalid oid '${String(s)}': not a string`)
  const bad = (why: string): OidError => new OidError(`invalid oid '${quote(s)}': ${why}`)
  const colon = s.indexOf(':')
  if (colon < 0) {
    const m = OID_HEX_RE.exec(s)
    if (m === null) throw bad('expected 16 hex digits (optional 0x) or vid:index')
    const oid = BigInt('0x' + m[1])
    if (!isValidOid(oid)) {
      const high = oidHigh(oid)
      throw bad((high & HIGH_RESERVED_MASK) !== 0
        ? 'reserved bits 56..60 are set'
        : 'more than one of the VDI/vmstate/attr flags is set')
    }
    return oid
  }
  if (s.indexOf(':', colon + 1) >= 0) throw bad('expected one colon in vid:index')
  const vidText = s.slice(0, colon)
  const idxText = s.slice(colon + 1)
  const vm = VID_HEX_RE.exec(vidText)
  if (vm === null) throw bad(`vid '${quote(vidText)}' is not 1..6 hex digits (24 bits)`)
  const im = INDEX_RE.exec(idxText)
  if (im === null) throw bad(`index '${quote(idxText)}' is not a decimal or 0x-hex number`)
  const idx = im[1] !== undefined ? parseInt(im[1], 16) : Number(im[2])
  if (idx > MAX_INDEX) throw bad(`index ${idxText} exceeds 2^32-1`)
  return fromHighLow(parseInt(vm[1], 16), idx)
}

/** parseOid for input that may be bad (an answer from a node, a history line): undefined instead of a throw */
export function tryParseOid (s: string): bigint | undefined {
  try {
    return parseOid(s)
  } catch {
    return undefined
  }
}

export function formatVid (vid: number): string {
  checkVid(vid)
  return vid.toString(16).padStart(6, '0')
}

/** 1..6 hex digits, optional 0x. */
export function parseVid (s: string): number {
  if (typeof s !== 'string') throw new OidError(`invalid vid '${String(s)}': not a string`)
  const m = VID_HEX_RE.exec(s)
  if (m === null) throw new OidError(`invalid vid '${quote(s)}': expected 1..6 hex digits (24 bits)`)
  return parseInt(m[1], 16)
}

// FNV-1a 64 on two 32-bit halves: prime 2^40 + 0x1b3, so h*prime = h*0x1b3 + (h << 40);
// every intermediate stays below 2^53, so plain doubles are exact and no bigint is made per byte.
const FNV_OFFSET_HI = 0xcbf29ce4
const FNV_OFFSET_LO = 0x84222325
const FNV_PRIME_LO = 0x1b3

let outHi = 0
let outLo = 0

function fnvBytes (bytes: Uint8Array): void {
  let hi = FNV_OFFSET_HI
  let lo = FNV_OFFSET_LO
  for (let k = 0; k < bytes.length; k++) {
    lo = (lo ^ bytes[k]) >>> 0
    const t = lo * FNV_PRIME_LO
    const carry = Math.floor(t / TWO32)
    hi = (Math.imul(hi, FNV_PRIME_LO) + carry + (lo << 8)) >>> 0
    lo = t >>> 0
  }
  outHi = hi
  outLo = lo
}

function fnvWord (hi: number, lo: number, word: number): void {
  for (let k = 0; k < 4; k++) {
    lo = (lo ^ ((word >>> (8 * k)) & 0xff)) >>> 0
    const t = lo * FNV_PRIME_LO
    const carry = Math.floor(t / TWO32)
    hi = (Math.imul(hi, FNV_PRIME_LO) + carry + (lo << 8)) >>> 0
    lo = t >>> 0
  }
  outHi = hi
  outLo = lo
}

export function fnv1a64 (bytes: Uint8Array): bigint {
  fnvBytes(bytes)
  return fromHighLow(outHi, outLo)
}

/** fnv1a64(oidToBytesLE(oid)) without allocating the byte array. */
export function fnv1a64Oid (oid: bigint): bigint {
  checkU64(oid)
  fnvWord(FNV_OFFSET_HI, FNV_OFFSET_LO, oidToIndex(oid))
  fnvWord(outHi, outLo, oidHigh(oid))
  return fromHighLow(outHi, outLo)
}

const utf8 = new TextEncoder()

/** Sheepdog's sd_hash_vdi: low 24 bits of FNV-1a 64 over the UTF-8 name. */
export function sdHashVdi (name: string): number {
  fnvBytes(utf8.encode(name))
  return outLo & MAX_VID
}

/** Next vid for probing after a hash collision; vid 0 is reserved in Sheepdog. */
export function nextVid (vid: number): number {
  checkVid(vid)
  const n = (vid + 1) & MAX_VID
  return n === 0 ? 1 : n
}

export function oidToBytesLE (oid: bigint): Uint8Array {
  checkU64(oid)
  const out = new Uint8Array(8)
  new DataView(out.buffer).setBigUint64(0, oid, true)
  return out
}
