// What a heartbeat may say, judged before anything of it is used (issue 11: bound and validate
// zone, addresses, API and every number where the bytes enter). Pure: the caller passes the
// receiver's clock and epoch judgements; the answer is a reason to reject, or nothing (addresses
// already found valid are remembered, which changes no answer).
// The members topic's validator calls it, so a rejected heartbeat is never forwarded and costs
// its author gossipsub score.
import { multiaddr } from '@multiformats/multiaddr'
import { MAX_ADDRS, MAX_ADDR_LENGTH, MAX_API_LENGTH, MAX_MEMBER_COUNT, MAX_PEER_ID_LENGTH } from './constants.js'

export interface HeartbeatFields {
  peerId: string
  addrs: readonly string[]
  api: string
  zone: number
  epoch: bigint
  hlc: bigint
  /** members the sender does not hear straight from (absent: not judged) */
  unheard?: number
  log?: { maxHlc: bigint, ack: bigint, gcHorizon: bigint, now: bigint }
}

export interface HeartbeatContext {
  /** the signed author of the gossip message */
  from: string
  /** why an HLC cannot come from an honest clock (HybridClock.implausible) */
  checkHlc: (h: bigint) => string | undefined
  /** the view's judgement of an epoch (MembershipView.checkEpoch) */
  checkEpoch: (epoch: bigint) => string | undefined
}

/** transports a node listens on: TCP over an IP address or a DNS name */
const ADDR_HOST = new Set(['ip4', 'ip6', 'dns', 'dns4', 'dns6'])
const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/
const LABEL = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/
const API = /^http:\/\/(\[[0-9A-Fa-f:.]+\]|[^/:@?#[\]\s]+):(\d{1,5})$/

/** a reason the heartbeat cannot be an honest one, or undefined */
export function checkHeartbeat (hb: HeartbeatFields, ctx: HeartbeatContext): string | undefined {
  if (hb.peerId !== ctx.from) return `heartbeat for ${short(hb.peerId)} signed by ${ctx.from}`
  if (hb.peerId.length === 0 || hb.peerId.length > MAX_PEER_ID_LENGTH) return `peer id of ${hb.peerId.length} characters`
  if (hb.addrs.length > MAX_ADDRS) return `${hb.addrs.length} addresses (at most ${MAX_ADDRS})`
  for (const a of hb.addrs) {
    const why = checkAddrOnce(a, hb.peerId)
    if (why !== undefined) return `address ${short(a)}: ${why}`
  }
  const api = checkApi(hb.api)
  if (api !== undefined) return `api ${short(hb.api)}: ${api}`
  if (!Number.isInteger(hb.zone) || hb.zone < 0 || hb.zone > 0xffffffff) return `zone ${String(hb.zone)} is not a u32`
  if (hb.unheard !== undefined && (!Number.isInteger(hb.unheard) || hb.unheard < 0 || hb.unheard > MAX_MEMBER_COUNT)) return `unheard ${String(hb.unheard)} is not a member count (at most ${MAX_MEMBER_COUNT})`
  const epoch = ctx.checkEpoch(hb.epoch)
  if (epoch !== undefined) return epoch
  const clocks: Array<[string, bigint]> = [['hlc', hb.hlc]]
  if (hb.log !== undefined) clocks.push(['log.maxHlc', hb.log.maxHlc], ['log.ack', hb.log.ack], ['log.gcHorizon', hb.log.gcHorizon], ['log.now', hb.log.now])
  for (const [name, h] of clocks) {
    const why = ctx.checkHlc(h)
    if (why !== undefined) return `${name} ${why}`
  }
  return undefined
}

/**
 * Addresses found valid, per announcing peer. A member announces the same few addresses on
 * every heartbeat, and parsing them was a tenth of the validator's time on an idle node (issue
 * 14). The answer depends on nothing else, so remembering it changes no verdict; bounded, the
 * oldest forgotten first, and only valid ones kept (a peer sending junk gains nothing by it).
 */
const validAddrs = new Set<string>()
export const MAX_REMEMBERED_ADDRS = 4096

function checkAddrOnce (a: string, peerId: string): string | undefined {
  if (a.length > MAX_ADDR_LENGTH || peerId.length > MAX_PEER_ID_LENGTH) return checkAddr(a, peerId)
  const key = `${peerId} ${a}`
  if (validAddrs.has(key)) return undefined
  const why = checkAddr(a, peerId)
  if (why === undefined) {
    if (validAddrs.size >= MAX_REMEMBERED_ADDRS) validAddrs.delete(validAddrs.values().next().value!)
    validAddrs.add(key)
  }
  return why
}

/** a TCP multiaddr over ip4/ip6/dns, optionally ending in this peer's /p2p id */
export function checkAddr (a: string, peerId: string): string | undefined {
  if (a.length > MAX_ADDR_LENGTH) return `${a.length} characters (at most ${MAX_ADDR_LENGTH})`
  let names: string[]
  let last: string | undefined
  try {
    const m = multiaddr(a)
    names = m.protoNames()
    last = m.stringTuples().at(-1)?.[1]
  } catch (err) {
    return `not a multiaddr (${(err as Error).message})`
  }
  if (!ADDR_HOST.has(names[0] ?? '') || names[1] !== 'tcp') return `not a TCP address over ip4/ip6/dns (${names.join('/')})`
  if (names.length === 3 && names[2] === 'p2p' && last === peerId) return undefined
  if (names.length !== 2) return `unexpected parts after tcp (${names.slice(2).join('/')})`
  return undefined
}

/** `http://host:port`: an IPv4 address, a bracketed IPv6 address or a DNS name; port 1..65535 */
export function checkApi (api: string): string | undefined {
  if (api.length > MAX_API_LENGTH) return `${api.length} characters (at most ${MAX_API_LENGTH})`
  const m = API.exec(api)
  if (m == null) return 'not http://host:port'
  const host = m[1]!
  const port = Number(m[2])
  if (port < 1 || port > 65535) return `port ${port} out of range`
  if (host.startsWith('[')) {
    try { if (new URL(api).hostname !== host.toLowerCase()) return 'bad IPv6 address' } catch { return 'bad IPv6 address' }
    return undefined
  }
  const v4 = IPV4.exec(host)
  if (v4 != null) return v4.slice(1).every((o) => Number(o) <= 255) ? undefined : 'bad IPv4 address'
  if (host.length > 253 || !host.split('.').every((l) => LABEL.test(l))) return 'bad host name'
  return undefined
}

function short (s: string): string {
  return JSON.stringify(s.length > 80 ? `${s.slice(0, 80)}…` : s)
}
