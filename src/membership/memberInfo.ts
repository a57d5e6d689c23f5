// What one member record may hold, checked and frozen where the pure view takes it in (its
// own info at start and on update, and every heartbeat): the bounds of
// src/membership/constants.ts, a type error for anything a real heartbeat cannot carry.
import { MAX_ADDRS, MAX_ADDR_LENGTH, MAX_API_LENGTH, MAX_PEER_ID_LENGTH } from './constants.js'

export interface MemberInfo {
  peerId: string
  addrs: string[]
  zone: number
  /** admin API URL */
  api: string
  /** bumped by the member whenever its own info changes (and on restart); higher wins */
  incarnation: bigint
}

/** A heartbeat that cannot be a real one (wrong types, out-of-range numbers). The adapter
 *  should drop it and count it; the view is untouched. */
export class InvalidHeartbeatError extends Error {
  override readonly name = 'InvalidHeartbeatError'
}

const U64_MAX = (1n << 64n) - 1n
export const U32_MAX = 0xffffffff

export function freezeInfo (m: MemberInfo): MemberInfo {
  return Object.freeze({
    peerId: m.peerId,
    addrs: Object.freeze([...m.addrs]) as string[],
    zone: m.zone,
    api: m.api,
    incarnation: m.incarnation
  })
}

export function isU64 (v: unknown): v is bigint {
  return typeof v === 'bigint' && v >= 0n && v <= U64_MAX
}

export function validateInfo (m: MemberInfo, what: string): void {
  const bad = (why: string): never => {
    throw new InvalidHeartbeatError(`${what}: ${why}`)
  }
  if (typeof m !== 'object' || m === null) bad('not an object')
  if (typeof m.peerId !== 'string' || m.peerId.length === 0 || m.peerId.length > MAX_PEER_ID_LENGTH) {
    bad(`bad peerId ${JSON.stringify(m.peerId)}`)
  }
  if (!Array.isArray(m.addrs) || !m.addrs.every((a) => typeof a === 'string' && a.length <= MAX_ADDR_LENGTH)) bad(`addrs must be strings of at most ${MAX_ADDR_LENGTH} characters`)
  if (m.addrs.length > MAX_ADDRS) bad(`${m.addrs.length} addrs (at most ${MAX_ADDRS})`)
  if (!Number.isInteger(m.zone) || m.zone < 0 || m.zone > U32_MAX) bad(`bad zone ${String(m.zone)}`)
  if (typeof m.api !== 'string' || m.api.length > MAX_API_LENGTH) bad(`api must be a string of at most ${MAX_API_LENGTH} characters`)
  if (!isU64(m.incarnation)) bad(`bad incarnation ${String(m.incarnation)}`)
}
