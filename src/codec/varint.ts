// Unsigned LEB128 varints (protobuf's wire integers), the one implementation in the tree:
// sizes for exact frame budgets (batches, anti-entropy frames, the baseline model), writing
// into a preallocated buffer, and one strict reader for peer input. Protobuf messages are
// decoded by @bufbuild/protobuf; this is for the framing and packing written by hand.

/** Encoded length of v (1 for anything below 0x80, negatives included: callers pass unsigned values). */
export function varintSize (v: number | bigint): number {
  let n = 1
  if (typeof v === 'bigint') {
    while (v >= 0x80n) { v >>= 7n; n++ }
    return n
  }
  while (v >= 0x80) { v = Math.floor(v / 128); n++ }
  return n
}

/** Writes v (a non-negative safe integer) at out[pos]; returns the position after it. */
export function writeVarint (out: Uint8Array, pos: number, v: number): number {
  while (v >= 0x80) {
    // & keeps the low 7 bits even above 2^31; division, not >>>, keeps values above 2^32 exact
    out[pos++] = (v & 0x7f) | 0x80
    v = Math.floor(v / 128)
  }
  out[pos++] = v
  return pos
}

/** v as varint bytes (any width: tests and fuzz build over-wide values with it). */
export function varintBytes (v: bigint): number[] {
  const out: number[] = []
  while (v >= 0x80n) { out.push(Number(v & 0x7fn) | 0x80); v >>= 7n }
  out.push(Number(v))
  return out
}

/** Why a strict read failed: input ended inside the varint, more than maxBytes, or a trailing zero byte. */
export type VarintFault = 'truncated' | 'overlong' | 'non-minimal'

/** Result of readVarint; one object is reused across reads so hot decoders do not allocate. */
export interface VarintRead {
  value: number
  /** position after the varint */
  end: number
  fault: VarintFault | undefined
}

export function varintRead (): VarintRead {
  return { value: 0, end: 0, fault: undefined }
}

/**
 * Reads one canonical varint of at most maxBytes bytes (≤ 7, so the value stays a safe
 * integer) at bytes[pos] into out. Faults rather than throws, so each caller keeps its own
 * error type and message. Range checks (e.g. ≤ 2^32-1) are the caller's.
 */
export function readVarint (bytes: Uint8Array, pos: number, maxBytes: number, out: VarintRead): VarintRead {
  const start = pos
  let v = 0
  let mul = 1
  out.fault = undefined
  for (;;) {
    if (pos >= bytes.length) { out.fault = 'truncated'; break }
    const b = bytes[pos++]!
    v += (b & 0x7f) * mul
    if ((b & 0x80) === 0) {
      if (b === 0 && pos - start > 1) out.fault = 'non-minimal'
      break
    }
    if (pos - start >= maxBytes) { out.fault = 'overlong'; break }
    mul *= 128
  }
  out.value = v
  out.end = pos
  return out
}
