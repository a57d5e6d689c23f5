// The one client of a node's admin API (docs/API.md, shapes in types.ts), for everything in
// this tree that talks to a node: the CLI, chaos runs (workload, sampler, faults), check and
// the soak. Every call presents this process's API token (token.ts) and has a deadline that
// covers the answer's body too. What can go wrong comes back as one of three errors, so no
// caller ever looks at HTTP itself:
//   - UnreachableError: no answer at all (timeout, connection refused, other network error);
//   - ApiError: the node answered with its JSON error body { error, code } (the message is
//     the node's own);
//   - MalformedAnswerError (an ApiError, code INTERNAL): a 2xx whose body is not what the
//     contract promises.
// Callers map these to what they need: the CLI to exit codes, the workload to definite or
// unknown outcomes.

import { apiHeaders } from './token.js'
import type {
  AntiEntropyInfo, ChaosState, ClockRequest, CreateVdiRequest, DeleteVdiAnswer, DeletesInfo, DiscardAnswer, DiscardRequest,
  LocalCheck, Location, MembersInfo, NodeStatus, ObjList, PartitionRequest, RecoveryInfo, VdiInfo, VdiList, WriteAnswer
} from './types.js'

export const DEFAULT_TIMEOUT_MS = 20_000
/** Data transfers move up to whole VDIs through one request. */
export const DATA_TIMEOUT_MS = 120_000

/** why a node could not be talked to */
export type UnreachableReason = 'timeout' | 'refused' | 'network'

/** The node (or the cluster) cannot be talked to at all. */
export class UnreachableError extends Error {
  override name = 'UnreachableError'
  constructor (message: string, readonly reason: UnreachableReason, /** the system's word for it (ECONNRESET, …) */ readonly detail: string) {
    super(message)
  }
}

/** The node answered with an error. */
export class ApiError extends Error {
  override name = 'ApiError'
  constructor (message: string, readonly status: number, readonly code: string) {
    super(message)
  }
}

/** The node answered 2xx with a body that is not the JSON object the contract promises. */
export class MalformedAnswerError extends ApiError {
  override name = 'MalformedAnswerError'
}

/** the code of an error answer that carried none (not a bellwether node, or a proxy in between) */
const CODE_OF_STATUS: Record<number, string> = {
  400: 'BAD_REQUEST', 401: 'UNAUTHORIZED', 404: 'NOT_FOUND', 409: 'EXISTS', 410: 'DELETED', 415: 'UNSUPPORTED_MEDIA_TYPE', 421: 'MISDIRECTED', 503: 'UNAVAILABLE'
}

export interface ApiClientOptions {
  /** deadline of a JSON call (default DEFAULT_TIMEOUT_MS) */
  timeoutMs?: number
  /** deadline of a data read or write (default DATA_TIMEOUT_MS) */
  dataTimeoutMs?: number
}

interface Exchange { method: string; path: string; body?: string | Uint8Array; contentType?: string; timeoutMs: number }

export class ApiClient {
  readonly baseUrl: string
  readonly timeoutMs: number
  readonly dataTimeoutMs: number

  /** `opts` as a number: the JSON calls' deadline */
  constructor (baseUrl: string, opts: number | ApiClientOptions = {}) {
    this.baseUrl = baseUrl.replace(/\/+$/, '')
    const o = typeof opts === 'number' ? { timeoutMs: opts } : opts
    this.timeoutMs = o.timeoutMs ?? DEFAULT_TIMEOUT_MS
    this.dataTimeoutMs = o.dataTimeoutMs ?? DATA_TIMEOUT_MS
  }

  async status (): Promise<NodeStatus> { return await this.json('GET', '/status') }
  async members (): Promise<MembersInfo> { return await this.json('GET', '/members') }
  async vdis (): Promise<VdiList> { return await this.json('GET', '/vdi') }
  async deletes (): Promise<DeletesInfo> { return await this.json('GET', '/deletes') }
  async check (): Promise<LocalCheck> { return await this.json('GET', '/check') }
  async antientropy (): Promise<AntiEntropyInfo> { return await this.json('GET', '/antientropy') }
  async recovery (): Promise<RecoveryInfo> { return await this.json('GET', '/recovery') }

  /** Prometheus text */
  async metrics (): Promise<string> {
    return decode(await this.exchange({ method: 'GET', path: '/metrics', timeoutMs: this.timeoutMs }))
  }

  async chaos (): Promise<ChaosState> { return await this.json('GET', '/chaos') }
  /** replaces any previous partition of this node */
  async partition (peers: string[]): Promise<ChaosState> { return await this.json('POST', '/chaos/partition', { peers } satisfies PartitionRequest) }
  async heal (): Promise<ChaosState> { return await this.json('POST', '/chaos/heal', {}) }
  /** skews the node's clock source: offsetMs is added to its wall clock from now on */
  async skew (offsetMs: number): Promise<ChaosState> { return await this.json('POST', '/chaos/clock', { offsetMs } satisfies ClockRequest) }

  async objlist (vid?: string): Promise<ObjList> {
    return await this.json('GET', vid === undefined ? '/objlist' : `/objlist?vid=${encodeURIComponent(vid)}`)
  }

  async createVdi (req: CreateVdiRequest): Promise<VdiInfo> { return await this.json('POST', '/vdi', req) }
  async getVdi (name: string): Promise<VdiInfo> { return await this.json('GET', `/vdi/${enc(name)}`) }
  async deleteVdi (name: string): Promise<DeleteVdiAnswer> { return await this.json('DELETE', `/vdi/${enc(name)}`) }

  /** `objects`: index ranges, e.g. "0-3,7" */
  async discard (name: string, objects: string): Promise<DiscardAnswer> {
    return await this.json('POST', `/vdi/${enc(name)}/discard`, { objects } satisfies DiscardRequest)
  }

  async location (name: string, index: number): Promise<Location> {
    return await this.json('GET', `/vdi/${enc(name)}/location?index=${index}`)
  }

  async writeData (name: string, offset: number, data: Uint8Array): Promise<WriteAnswer> {
    const path = `/vdi/${enc(name)}/data?offset=${offset}`
    return this.object(await this.answer({ method: 'PUT', path, body: data, contentType: 'application/octet-stream', timeoutMs: this.dataTimeoutMs }))
  }

  async readData (name: string, offset: number, length: number): Promise<Uint8Array> {
    return await this.exchange({ method: 'GET', path: `/vdi/${enc(name)}/data?offset=${offset}&length=${length}`, timeoutMs: this.dataTimeoutMs })
  }

  private async json<T> (method: string, path: string, body?: unknown): Promise<T> {
    return this.object<T>(await this.answer(body === undefined
      ? { method, path, timeoutMs: this.timeoutMs }
      : { method, path, body: JSON.stringify(body), contentType: 'application/json', timeoutMs: this.timeoutMs }))
  }

  /** One request, its whole answer read under one deadline; an error answer throws ApiError. */
  private async exchange (x: Exchange): Promise<Uint8Array> {
    return (await this.answer(x)).bytes
  }

  private async answer (x: Exchange): Promise<{ status: number; bytes: Uint8Array }> {
    const signal = AbortSignal.timeout(x.timeoutMs)
    let response: Response
    let bytes: Uint8Array
    try {
      response = await fetch(this.baseUrl + x.path, {
        method: x.method,
        signal,
        // Uint8Array<ArrayBufferLike> vs BodyInit is a typing gap (SharedArrayBuffer), not a runtime one
        body: x.body as BodyInit | undefined,
        headers: apiHeaders(x.contentType)
      })
      bytes = new Uint8Array(await response.arrayBuffer())
    } catch (err) {
      throw this.transportError(err, x, signal)
    }
    if (!response.ok) throw errorAnswer(response, bytes)
    return { status: response.status, bytes }
  }

  private transportError (err: unknown, x: Exchange, signal: AbortSignal): UnreachableError {
    const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } }
    if (e?.name === 'TimeoutError' || e?.name === 'AbortError' || signal.aborted) {
      return new UnreachableError(`node at ${this.baseUrl} did not answer ${x.method} ${x.path} within ${x.timeoutMs} ms`, 'timeout', 'timeout')
    }
    const why = e?.cause?.code ?? e?.cause?.message ?? e?.message ?? String(err)
    return new UnreachableError(`cannot reach node at ${this.baseUrl}: ${why}`, e?.cause?.code === 'ECONNREFUSED' ? 'refused' : 'network', why)
  }

  private object<T> (a: { status: number; bytes: Uint8Array }): T {
    const value = parseJson(a.bytes)
    if (typeof value !== 'object' || value === null) {
      throw new MalformedAnswerError(`node at ${this.baseUrl} sent a malformed answer (not a JSON object)`, a.status, 'INTERNAL')
    }
    return value as T
  }
}

/** The node's { error, code } as an ApiError; without one, the HTTP status speaks. */
function errorAnswer (response: Response, bytes: Uint8Array): ApiError {
  const value = parseJson(bytes)
  const obj = (typeof value === 'object' && value !== null ? value : {}) as { error?: unknown; code?: unknown }
  const code = typeof obj.code === 'string' ? obj.code : (CODE_OF_STATUS[response.status] ?? 'INTERNAL')
  const msg = typeof obj.error === 'string' ? obj.error : `HTTP ${response.status} ${response.statusText}`
  return new ApiError(msg, response.status, code)
}

function parseJson (bytes: Uint8Array): unknown {
  if (bytes.byteLength === 0) return undefined
  try {
    return JSON.parse(decode(bytes))
  } catch {
    return undefined
  }
}

function decode (bytes: Uint8Array): string {
  return new TextDecoder().decode(bytes)
}

function enc (name: string): string {
  return encodeURIComponent(name)
}
