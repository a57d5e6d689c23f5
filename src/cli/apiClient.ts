// HTTP client for one node's admin API (docs/API.md), with the API's JSON shapes as the CLI
// sees them. Every call has a timeout; a node that cannot be reached or does not answer in
// time is an UnreachableError (exit 2), an API error answer is an ApiError mapped to dog's
// exit codes, so commands never have to look at HTTP statuses themselves.

import { EXIT } from './output.js'
import { apiHeaders } from '../api/token.js'

export interface LogSummary { count: number; fingerprint: string; maxHlc: string }

/** Tombstone GC state: HLCs and the floor hash as hex strings. */
export interface GcStatus {
  /** the HLC up to which this node holds every delete record of every member ("0…0": none yet) */
  ack: string
  /** the GC horizon: records at or below it are folded into the floor ("0…0": nothing folded yet) */
  horizon: string
  /** number of floor entries (one per vid whose whole-VDI delete was folded) */
  floor: number
  floorHash: string
}

/** Anti-entropy session counters since the node started. */
export interface AeTotals {
  started: number; completed: number; failed: number
  bytesIn: number; bytesOut: number
  recordsLearned: number; recordsSent: number
}

export interface AeStatus extends AeTotals {
  /** sessions running now */
  active: number
}

export interface RecoveryStatus {
  running: boolean; epoch: string; toRecover: number; recovered: number; failed: number; peerFailures?: number; deletedSkipped: number; lastCompleteEpoch: string
}

export interface NodeStatus {
  peerId: string; addrs: string[]; api: string; dataDir: string; zone: number; pid: number
  epoch: string; members: string[]
  /** false while a (re)started node refuses client I/O until a peer agrees on the member set */
  joined?: boolean
  objects: number; busy: boolean; busyReasons?: string[]
  log: LogSummary
  // optional: nodes built before anti-entropy (and unit-test fixtures) do not send them
  gc?: GcStatus
  ae?: AeStatus
  recovery?: RecoveryStatus
  /** peers this node refuses and hangs up on (application-level partition) */
  partitioned?: string[]
  startedAt: string; uptimeMs: number; version: string
}

export interface AeSessionReport {
  peer: string
  role: 'initiator' | 'responder'
  /** epoch milliseconds */
  startedAt: number
  ms: number
  bytesIn: number; bytesOut: number
  framesIn: number; framesOut: number
  rounds: number
  /** records this node learned / sent in the session */
  learned: number; sent: number
  error?: string
}

export interface AntiEntropyInfo {
  active: number
  totals: AeTotals
  /** the last few sessions, newest last */
  recent: AeSessionReport[]
}

export interface DeletesGc { ack: string; horizon: string; floorHash: string; folded: number }

export interface DeletesInfo {
  summary: LogSummary
  gc?: DeletesGc
  /** [vid (number), generation]: every object of vid with generation <= it is deleted */
  floor?: Array<[number, number]>
  records: DeleteRecordJson[]
}

export interface ChaosState { partitioned: string[]; clockOffsetMs?: number }

export interface MemberInfo { peerId: string; addrs: string[]; zone: number; api: string; lastHeardMs: number }

export interface VdiInfo {
  name: string; vid: string; size: number; copies: number; objectSize: number
  generation: number; objects: number; created: string
}

export interface DeleteRecordJson {
  origin: string; seq: string; hlc: string; kind: 'vdi' | 'objects'
  vid: string; generation: number; count: number; indexes?: number[]
}

export interface LocalCheckObject { oid: string; generation: number; version: string; checksum: number; length: number }

export interface LocalCheck {
  peerId: string
  cacheEqualsDisk: boolean; onlyInCache: string[]; onlyOnDisk: string[]
  objects: LocalCheckObject[]
  tombstoned: string[]
}

export interface Location {
  oid: string
  placement: string[]
  holders: Array<{ peerId: string; version: string; checksum: number }>
}

export interface CreateVdiRequest { name: string; size: number; copies?: number; objectSize?: number; prealloc?: boolean }

export const DEFAULT_TIMEOUT_MS = 20_000
/** Data transfers move up to whole VDIs through one request. */
export const DATA_TIMEOUT_MS = 120_000

/** The node (or the cluster) cannot be talked to at all. */
export class UnreachableError extends Error {
  override name = 'UnreachableError'
  readonly exitCode = EXIT.UNREACHABLE
}

/** The node answered with an error. */
export class ApiError extends Error {
  override name = 'ApiError'
  constructor (message: string, readonly status: number, readonly code: string) {
    super(message)
  }

  get exitCode (): number {
    switch (this.code) {
      case 'NOT_FOUND':
      case 'DELETED':
        return EXIT.NOT_FOUND
      case 'EXISTS':
        return EXIT.EXISTS
      // the node checked our argument and refused it: a usage error, as in dog
      case 'BAD_REQUEST':
        return EXIT.USAGE
      case 'UNAVAILABLE':
        return EXIT.UNREACHABLE
      default:
        return EXIT.FAILURE
    }
  }
}

const CODE_OF_STATUS: Record<number, string> = {
  400: 'BAD_REQUEST', 401: 'UNAUTHORIZED', 404: 'NOT_FOUND', 409: 'EXISTS', 410: 'DELETED', 415: 'UNSUPPORTED_MEDIA_TYPE', 421: 'MISDIRECTED', 503: 'UNAVAILABLE'
}

export class ApiClient {
  readonly baseUrl: string

  constructor (baseUrl: string, readonly timeoutMs = DEFAULT_TIMEOUT_MS) {
    this.baseUrl = baseUrl.replace(/\/+$/, '')
  }

  async status (): Promise<NodeStatus> { return await this.json('GET', '/status') }
  async members (): Promise<{ epoch: string; members: MemberInfo[] }> { return await this.json('GET', '/members') }
  async vdis (): Promise<{ vdis: VdiInfo[] }> { return await this.json('GET', '/vdi') }
  async deletes (): Promise<DeletesInfo> { return await this.json('GET', '/deletes') }
  async check (): Promise<LocalCheck> { return await this.json('GET', '/check') }
  async antientropy (): Promise<AntiEntropyInfo> { return await this.json('GET', '/antientropy') }

  async chaos (): Promise<ChaosState> { return await this.json('GET', '/chaos') }
  /** replaces any previous partition of this node */
  async partition (peers: string[]): Promise<ChaosState> { return await this.json('POST', '/chaos/partition', { peers }) }
  async heal (): Promise<ChaosState> { return await this.json('POST', '/chaos/heal', {}) }
  /** skews the node's clock source: offsetMs is added to its wall clock from now on */
  async skew (offsetMs: number): Promise<ChaosState> { return await this.json('POST', '/chaos/clock', { offsetMs }) }

  async objlist (vid?: string): Promise<{ count: number; oids: string[] }> {
    return await this.json('GET', vid === undefined ? '/objlist' : `/objlist?vid=${encodeURIComponent(vid)}`)
  }

  async createVdi (req: CreateVdiRequest): Promise<VdiInfo> { return await this.json('POST', '/vdi', req) }
  async getVdi (name: string): Promise<VdiInfo> { return await this.json('GET', `/vdi/${enc(name)}`) }

  async deleteVdi (name: string): Promise<{ vdi: VdiInfo; records: number }> {
    return await this.json('DELETE', `/vdi/${enc(name)}`)
  }

  async discard (name: string, objects: string): Promise<{ vdi: VdiInfo; discarded: number; records: number }> {
    return await this.json('POST', `/vdi/${enc(name)}/discard`, { objects })
  }

  async location (name: string, index: number): Promise<Location> {
    return await this.json('GET', `/vdi/${enc(name)}/location?index=${index}`)
  }

  async writeData (name: string, offset: number, data: Uint8Array): Promise<{ written: number; objects: number }> {
    const res = await this.request('PUT', `/vdi/${enc(name)}/data?offset=${offset}`, {
      body: data, contentType: 'application/octet-stream', timeoutMs: DATA_TIMEOUT_MS
    })
    return await this.parse(res.response, res.text)
  }

  async readData (name: string, offset: number, length: number): Promise<Uint8Array> {
    const path = `/vdi/${enc(name)}/data?offset=${offset}&length=${length}`
    const { response, signal, ms } = await this.send('GET', path, { timeoutMs: DATA_TIMEOUT_MS })
    if (!response.ok) await this.parse(response, await this.body(response, 'GET', path, signal, ms, 'text') as string)
    return await this.body(response, 'GET', path, signal, ms, 'bytes') as Uint8Array
  }

  private async json<T> (method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.request(method, path, body === undefined ? {} : { body: JSON.stringify(body), contentType: 'application/json' })
    return await this.parse<T>(res.response, res.text)
  }

  private async request (method: string, path: string, opts: { body?: string | Uint8Array; contentType?: string; timeoutMs?: number }): Promise<{ response: Response; text: string }> {
    const { response, signal, ms } = await this.send(method, path, opts)
    return { response, text: await this.body(response, method, path, signal, ms, 'text') as string }
  }

  private async send (method: string, path: string, opts: { body?: string | Uint8Array; contentType?: string; timeoutMs?: number }): Promise<{ response: Response; signal: AbortSignal; ms: number }> {
    const ms = opts.timeoutMs ?? this.timeoutMs
    const signal = AbortSignal.timeout(ms)
    const url = this.baseUrl + path
    try {
      const response = await fetch(url, {
        method,
        signal,
        // Uint8Array<ArrayBufferLike> vs BodyInit is a typing gap (SharedArrayBuffer), not a runtime one
        body: opts.body as BodyInit | undefined,
        headers: apiHeaders(opts.contentType)
      })
      return { response, signal, ms }
    } catch (err) {
      throw this.transportError(err, method, path, ms)
    }
  }

  private async body (response: Response, method: string, path: string, signal: AbortSignal, ms: number, as: 'text' | 'bytes'): Promise<string | Uint8Array> {
    try {
      return as === 'text' ? await response.text() : new Uint8Array(await response.arrayBuffer())
    } catch (err) {
      throw this.transportError(err, method, path, ms, signal)
    }
  }

  private transportError (err: unknown, method: string, path: string, ms: number, signal?: AbortSignal): Error {
    const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } }
    if (e?.name === 'TimeoutError' || e?.name === 'AbortError' || signal?.aborted === true) {
      return new UnreachableError(`node at ${this.baseUrl} did not answer ${method} ${path} within ${ms} ms`)
    }
    const why = e?.cause?.code ?? e?.cause?.message ?? e?.message ?? String(err)
    return new UnreachableError(`cannot reach node at ${this.baseUrl}: ${why}`)
  }

  private async parse<T> (response: Response, text: string): Promise<T> {
    let value: unknown
    try {
      value = text === '' ? undefined : JSON.parse(text)
    } catch {
      value = undefined
    }
    if (!response.ok) {
      const obj = (typeof value === 'object' && value !== null ? value : {}) as { error?: unknown; code?: unknown }
      const code = typeof obj.code === 'string' ? obj.code : (CODE_OF_STATUS[response.status] ?? 'INTERNAL')
      const msg = typeof obj.error === 'string' ? obj.error : `HTTP ${response.status} ${response.statusText}`
      throw new ApiError(msg, response.status, code)
    }
    if (typeof value !== 'object' || value === null) {
      throw new ApiError(`node at ${this.baseUrl} sent a malformed answer (not a JSON object)`, response.status, 'INTERNAL')
    }
    return value as T
  }
}

function enc (name: string): string {
  return encodeURIComponent(name)
}
