// The node's admin API (docs/API.md): JSON over loopback HTTP for the CLI, scripts and
// checks, plus /metrics. Handlers translate; all logic lives in the node and VDI layer. They
// read the node's snapshots (src/node/snapshots.ts), never its parts, and every answer is a
// shape of the contract in types.ts (built by answers.ts).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { formatOid, parseVid } from '../oid.js'
import { hex } from '../log.js'
import { parseObjectRanges, ObjectRangeError } from '../vdi/objectRanges.js'
import type { BellwetherNode } from '../node/node.js'
import { isLoopbackHost, splitHostPort } from '../net/hostPort.js'
import { CODE_STATUS, HttpError, intParam, readBody, readJson, sendError, sendJson } from './http.js'
import { antiEntropyInfo, deletesInfo, localCheckInfo, membersInfo, nodeStatus, recoveryInfo, vdiInfo } from './answers.js'
import { gatherStatusPage, renderStatusPage } from './statusPage.js'
import { bearerMatches } from './token.js'
import type { ChaosState, DeleteVdiAnswer, DiscardAnswer, Location, NodeStatus, ObjList, VdiList, WriteAnswer } from './types.js'

const VERSION = '0.1.0'
/** clock-skew chaos: two nodes skewed opposite ways stay inside the HLC 10-minute drift tolerance */
const MAX_CLOCK_OFFSET_MS = 4 * 60 * 1000

type Handler = (req: IncomingMessage, res: ServerResponse, q: URLSearchParams, params: string[]) => Promise<void>

/** What the admin API needs of a node: its snapshots, the VDI service, the chaos switches. */
export type AdminNode = Pick<BellwetherNode,
'self' | 'log' | 'metrics' | 'vdis' | 'joining' | 'unavailable' |
'statusSnapshot' | 'membersSnapshot' | 'deletesSnapshot' | 'aeSnapshot' | 'recoverySnapshot' | 'chaosSnapshot' |
'objectList' | 'localCheck' | 'metricsText' | 'setClockOffset' | 'partitionFrom' | 'healPartition'>

/** a 200 answer of the contract (the type argument names which) */
function ok<T> (res: ServerResponse, body: T): void {
  sendJson(res, 200, body)
}

export interface AdminApiInit {
  /** `Authorization: Bearer` token for destructive calls (every call off loopback) */
  token: string
  /** serve /chaos/*: partition, heal and clock skew are for chaos runs and tests only */
  enableChaos: boolean
}

interface Route {
  method: string
  re: RegExp
  fn: Handler
  /** changes or destroys data or the node's view of the cluster: needs the token everywhere */
  destructive: boolean
}

export class AdminApi {
  private server: Server | undefined
  private readonly routes: Route[] = []
  private readonly loopback: boolean

  constructor (private readonly node: AdminNode, private readonly address: string, private readonly init: AdminApiInit) {
    const n = node
    this.loopback = isLoopbackHost(splitHostPort(address).host)
    const vdiName = (p: string[]): string => {
      try {
        return decodeURIComponent(p[0])
      } catch {
        throw new HttpError(400, `VDI name '${p[0]}' in the path is not valid percent-encoding`, 'BAD_REQUEST')
      }
    }
    this.route('GET', /^\/$/, async (_req, res) => {
      const html = renderStatusPage(gatherStatusPage(n, Date.now()))
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(html) })
      res.end(html)
    })
    this.route('GET', /^\/status$/, async (_req, res) => { ok(res, this.status()) })
    this.route('GET', /^\/members$/, async (_req, res) => { ok(res, membersInfo(n.membersSnapshot(), Date.now())) })
    this.route('GET', /^\/objlist$/, async (req, res, q) => {
      const vidText = q.get('vid')
      let vid: number | undefined
      try { vid = vidText == null ? undefined : parseVid(vidText) } catch (err) { throw new HttpError(400, (err as Error).message, 'BAD_REQUEST') }
      const oids = n.objectList(vid)
      ok<ObjList>(res, { count: oids.length, oids: oids.map(formatOid) })
    })
    this.route('GET', /^\/vdi$/, async (_req, res) => { ok<VdiList>(res, { vdis: (await n.vdis.list()).map(vdiInfo) }) })
    this.route('POST', /^\/vdi$/, async (req, res) => {
      const b = await readJson(req)
      const inode = await n.vdis.create({ name: b.name as string, size: b.size as number, copies: b.copies as number | undefined, objectSize: b.objectSize as number | undefined, prealloc: b.prealloc === true })
      ok(res, vdiInfo(inode))
    })
    this.route('GET', /^\/vdi\/([^/]+)$/, async (_req, res, _q, p) => { ok(res, vdiInfo(await n.vdis.lookup(vdiName(p)))) })
    this.destructive('DELETE', /^\/vdi\/([^/]+)$/, async (_req, res, _q, p) => {
      const { inode, records } = await n.vdis.delete(vdiName(p))
      ok<DeleteVdiAnswer>(res, { vdi: vdiInfo(inode), records: records.length })
    })
    this.destructive('POST', /^\/vdi\/([^/]+)\/discard$/, async (req, res, _q, p) => {
      const b = await readJson(req)
      let indexes: Uint32Array
      try {
        indexes = parseObjectRanges(String(b.objects ?? ''))
      } catch (err) {
        if (err instanceof ObjectRangeError) throw new HttpError(400, err.message, 'BAD_REQUEST')
        throw err
      }
      const { inode, records } = await n.vdis.discard(vdiName(p), indexes)
      ok<DiscardAnswer>(res, { vdi: vdiInfo(inode), discarded: indexes.length, records: records.length })
    })
    this.destructive('PUT', /^\/vdi\/([^/]+)\/data$/, async (req, res, q, p) => {
      const offset = intParam(q, 'offset')
      const body = await readBody(req, 256 * 1024 * 1024)
      ok<WriteAnswer>(res, await n.vdis.write(vdiName(p), offset, new Uint8Array(body.buffer, body.byteOffset, body.byteLength)))
    })
    this.route('GET', /^\/vdi\/([^/]+)\/data$/, async (_req, res, q, p) => {
      const offset = intParam(q, 'offset')
      const length = intParam(q, 'length')
      if (length > 256 * 1024 * 1024) throw new HttpError(400, 'read length above 256 MiB; read in pieces', 'BAD_REQUEST')
      const data = await n.vdis.read(vdiName(p), offset, length)
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': data.byteLength })
      res.end(data)
    })
    this.route('GET', /^\/vdi\/([^/]+)\/location$/, async (_req, res, q, p) => {
      const loc = await n.vdis.location(vdiName(p), intParam(q, 'index'))
      ok<Location>(res, {
        oid: formatOid(loc.oid),
        placement: loc.placement,
        holders: loc.holders.map((h) => ({ peerId: h.peerId, version: hex(h.version), checksum: h.checksum, generation: h.generation }))
      })
    })
    this.route('GET', /^\/deletes$/, async (_req, res) => { ok(res, deletesInfo(n.deletesSnapshot())) })
    this.route('GET', /^\/antientropy$/, async (_req, res) => { ok(res, antiEntropyInfo(n.aeSnapshot())) })
    this.route('GET', /^\/recovery$/, async (_req, res) => { ok(res, recoveryInfo(n.recoverySnapshot())) })
    if (init.enableChaos) this.chaosRoutes()
    this.route('GET', /^\/check$/, async (_req, res) => { ok(res, localCheckInfo(n.self, await n.localCheck())) })
    this.route('GET', /^\/metrics$/, async (_req, res) => {
      const { contentType, text } = await n.metricsText()
      res.writeHead(200, { 'content-type': contentType })
      res.end(text)
    })
  }

  private chaosRoutes (): void {
    const n = this.node
    this.route('GET', /^\/chaos$/, async (_req, res) => { ok<ChaosState>(res, n.chaosSnapshot()) })
    this.destructive('POST', /^\/chaos\/clock$/, async (req, res) => {
      const b = await readJson(req)
      const ms = b.offsetMs
      if (typeof ms !== 'number' || !Number.isInteger(ms) || Math.abs(ms) > MAX_CLOCK_OFFSET_MS) {
        throw new HttpError(400, `body must be { offsetMs: integer within ±${MAX_CLOCK_OFFSET_MS} }: the offset added to this node's wall clock`, 'BAD_REQUEST')
      }
      n.setClockOffset(ms)
      ok<ChaosState>(res, n.chaosSnapshot())
    })
    this.destructive('POST', /^\/chaos\/partition$/, async (req, res) => {
      const b = await readJson(req)
      const peers = b.peers
      if (!Array.isArray(peers) || !peers.every((p) => typeof p === 'string' && p.length > 0 && p.length < 128)) {
        throw new HttpError(400, 'body must be { peers: [peer id, …] }: the peers this node must not talk to', 'BAD_REQUEST')
      }
      if (peers.includes(n.self)) throw new HttpError(400, 'a node cannot be partitioned from itself', 'BAD_REQUEST')
      await n.partitionFrom(peers as string[])
      ok<ChaosState>(res, { partitioned: n.chaosSnapshot().partitioned })
    })
    this.destructive('POST', /^\/chaos\/heal$/, async (_req, res) => {
      n.healPartition()
      ok<ChaosState>(res, { partitioned: [], clockOffsetMs: n.chaosSnapshot().clockOffsetMs })
    })
  }

  /** the bound address (port 0 in the options means "any free port") */
  get url (): string {
    const a = this.server?.address()
    return a != null && typeof a === 'object' ? `http://${a.address}:${a.port}` : `http://${this.address}`
  }

  status (): NodeStatus {
    return nodeStatus(this.node.statusSnapshot(), { url: this.url, chaosEnabled: this.init.enableChaos, version: VERSION, now: Date.now() })
  }

  private route (method: string, re: RegExp, fn: Handler): void {
    this.routes.push({ method, re, fn, destructive: false })
  }

  private destructive (method: string, re: RegExp, fn: Handler): void {
    this.routes.push({ method, re, fn, destructive: true })
  }

  /** DNS rebinding: a page on evil.example resolved to 127.0.0.1 still sends its own Host.
   *  Off loopback every call needs the token, which a page cannot have, so any Host will do. */
  private checkHost (req: IncomingMessage): void {
    if (!this.loopback) return
    const a = this.server?.address()
    const port = a != null && typeof a === 'object' ? a.port : splitHostPort(this.address).port
    const host = splitHostPort(this.address).host
    const allowed = [`${host}:${port}`, ...(host === '127.0.0.1' ? [`localhost:${port}`] : [])]
    const got = String(req.headers.host ?? '').toLowerCase()
    if (!allowed.includes(got)) {
      throw new HttpError(421, `Host header '${got}' does not name this API (${allowed.join(' or ')})`, 'MISDIRECTED')
    }
  }

  private checkToken (req: IncomingMessage, r: Route): void {
    if (!r.destructive && this.loopback) return
    if (bearerMatches(req.headers.authorization, this.init.token)) return
    const why = r.destructive ? `${r.method} ${req.url ?? ''} changes data` : `this API listens off loopback (${this.address})`
    throw new HttpError(401, `${why}: send the cluster's API token as 'Authorization: Bearer <token>' (cluster dir's api.token, or the node's DATA/api.token)`, 'UNAUTHORIZED')
  }

  async start (): Promise<void> {
    const { host, port } = splitHostPort(this.address)
    this.server = createServer((req, res) => { void this.dispatch(req, res) })
    this.server.keepAliveTimeout = 5000
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject)
      this.server!.listen(port, host, () => { this.server!.off('error', reject); resolve() })
    })
  }

  async stop (): Promise<void> {
    const s = this.server
    if (s == null) return
    this.server = undefined
    s.closeAllConnections()
    await new Promise<void>((resolve) => { s.close(() => { resolve() }) })
  }

  private async dispatch (req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      this.checkHost(req)
      const url = new URL(req.url ?? '/', 'http://x')
      let pathMatched = false
      for (const r of this.routes) {
        const m = r.re.exec(url.pathname)
        if (m == null) continue
        pathMatched = true
        if (r.method !== req.method) continue
        this.checkToken(req, r)
        // client I/O placed on a half-formed view would read stale data or write too few copies
        const joining = url.pathname.startsWith('/vdi') ? this.node.joining() : undefined
        if (joining !== undefined) throw new HttpError(503, joining, 'UNAVAILABLE')
        // a node that cannot store tombstones neither serves nor takes VDI I/O (nor deletes)
        const down = url.pathname.startsWith('/vdi') ? this.node.unavailable() : undefined
        if (down !== undefined) {
          this.node.metrics.refusedUnavailable.inc({ path: 'api' })
          throw new HttpError(503, `node unavailable: ${down}`, 'UNAVAILABLE')
        }
        await r.fn(req, res, url.searchParams, m.slice(1))
        return
      }
      if (!pathMatched && url.pathname.startsWith('/chaos')) {
        throw new HttpError(404, 'chaos endpoints are off on this node: start it with --enable-chaos (chaos runs and tests do)', 'NOT_FOUND')
      }
      throw pathMatched
        ? new HttpError(405, `method ${String(req.method)} not allowed on ${url.pathname}`, 'BAD_REQUEST')
        : new HttpError(404, `no such endpoint ${url.pathname}`, 'NOT_FOUND')
    } catch (err) {
      const code = (err as { code?: unknown })?.code
      const known = err instanceof HttpError || (typeof code === 'string' && code !== 'INTERNAL' && code in CODE_STATUS)
      if (!known) this.node.log.error({ err: (err as Error)?.stack ?? String(err), method: req.method, url: req.url }, 'admin API request failed')
      if (!res.headersSent) {
        if ((err as HttpError).status === 401) res.setHeader('www-authenticate', 'Bearer realm="bellwether"')
        sendError(res, err)
      } else res.destroy()
    }
  }
}
