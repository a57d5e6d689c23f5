// The one admin API client (src/api/client.ts) against a real node:http server on 127.0.9.10:
// JSON calls and their bodies, bytes both ways (not UTF-8), the process's token header, the
// node's JSON error body as the error's message and code, bodyless and malformed answers, a
// deadline that covers headers and body, a refused connection — and how the chaos workload
// judges each of these (opFailure: definite or unknown).
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { ApiClient, ApiError, MalformedAnswerError, UnreachableError } from '../../src/api/client.js'
import { useApiToken } from '../../src/api/token.js'
import { opFailure } from '../../src/chaos/opFailure.js'
import type { ClusterNode } from '../../src/cluster/clusterFile.js'

const HOST = '127.0.9.10'
/** nothing listens here: bound once, then closed */
const DEAD_HOST = '127.0.9.11'

interface Seen { method: string; url: string; headers: IncomingMessage['headers']; body: Buffer }
let seen: Seen[] = []
let server: Server
let base = ''
let deadBase = ''
/** responses held open (the slow routes), ended in afterAll */
const held: ServerResponse[] = []

function json (res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
  res.end(text)
}

const BYTES = Uint8Array.from([0, 1, 0xff, 0xfe, 0x80, 0x0a, 0xc3, 0x28, 7])

async function handle (req: IncomingMessage, res: ServerResponse): Promise<void> {
  const chunks: Buffer[] = []
  for await (const c of req) chunks.push(c as Buffer)
  const s: Seen = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) }
  seen.push(s)
  const path = s.url.split('?')[0]
  if (s.method === 'GET' && path === '/status') return json(res, 200, { peerId: 'p1', epoch: '7', members: ['p1'] })
  if (s.method === 'POST' && path === '/vdi') return json(res, 200, { name: 'disk', vid: '00abcd', size: 8, copies: 1, objectSize: 4, generation: 0, objects: 2, created: '1' })
  if (s.method === 'PUT' && path === '/vdi/a%20b/data') return json(res, 200, { written: s.body.length, objects: 1 })
  if (s.method === 'GET' && path === '/vdi/a%20b/data') {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': BYTES.length })
    res.end(BYTES); return
  }
  if (path === '/vdi/gone' || path === '/vdi/gone/data') return json(res, 410, { error: 'VDI gone was deleted', code: 'DELETED' })
  if (path === '/metrics') { res.writeHead(200, { 'content-type': 'text/plain' }); res.end('bw_objects 3\n'); return }
  if (path.startsWith('/bodyless/')) { res.writeHead(502); res.end(); return }
  if (path.startsWith('/notjson/')) { res.writeHead(200, { 'content-type': 'application/json' }); res.end('<html>'); return }
  if (path.startsWith('/no-headers/')) { held.push(res); return }
  if (path.startsWith('/stall-body/')) {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': 100 })
    res.write('{"a":')
    held.push(res)
    return
  }
  json(res, 404, { error: `no such endpoint ${path}`, code: 'NOT_FOUND' })
}

beforeAll(async () => {
  server = createServer((req, res) => { void handle(req, res) })
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve))
  const a = server.address()
  base = `http://${HOST}:${typeof a === 'object' && a !== null ? a.port : 0}/`
  const dead = createServer()
  await new Promise<void>((resolve) => dead.listen(0, DEAD_HOST, resolve))
  const d = dead.address()
  deadBase = `http://${DEAD_HOST}:${typeof d === 'object' && d !== null ? d.port : 0}`
  await new Promise<void>((resolve) => dead.close(() => resolve()))
})

afterAll(async () => {
  for (const r of held) r.destroy()
  server.closeAllConnections()
  await new Promise<void>((resolve) => server.close(() => resolve()))
})

afterEach(() => {
  useApiToken(undefined)
  seen = []
})

/** the client's error, or a failure when it resolved */
async function failure (p: Promise<unknown>): Promise<Error> {
  try {
    await p
  } catch (err) {
    return err as Error
  }
  throw new Error('the call resolved; an error was expected')
}

const node = { index: 4, apiUrl: base } as unknown as ClusterNode

describe('ApiClient', () => {
  it('JSON calls: path, method, body with its content type; the answer parsed', async () => {
    const c = new ApiClient(base)
    expect(c.baseUrl).toBe(base.replace(/\/$/, ''))
    expect(await c.status()).toEqual({ peerId: 'p1', epoch: '7', members: ['p1'] })
    const vdi = await c.createVdi({ name: 'disk', size: 8, objectSize: 4 })
    expect(vdi.vid).toBe('00abcd')
    expect(seen.map((s) => `${s.method} ${s.url}`)).toEqual(['GET /status', 'POST /vdi'])
    expect(seen[0]!.headers['content-type']).toBeUndefined()
    expect(seen[1]!.headers['content-type']).toBe('application/json')
    expect(JSON.parse(seen[1]!.body.toString('utf8'))).toEqual({ name: 'disk', size: 8, objectSize: 4 })
  })

  it("presents this process's API token, and none when it has none", async () => {
    await new ApiClient(base).status()
    expect(seen[0]!.headers.authorization).toBeUndefined()
    useApiToken('client-test-token-0123456789')
    await new ApiClient(base).status()
    expect(seen[1]!.headers.authorization).toBe('Bearer client-test-token-0123456789')
  })

  it('bytes both ways, exactly (not UTF-8), with the name percent-encoded', async () => {
    const c = new ApiClient(base)
    expect(await c.writeData('a b', 8, BYTES)).toEqual({ written: BYTES.length, objects: 1 })
    expect(seen[0]!.url).toBe('/vdi/a%20b/data?offset=8')
    expect(seen[0]!.headers['content-type']).toBe('application/octet-stream')
    expect(new Uint8Array(seen[0]!.body)).toEqual(BYTES)
    expect(await c.readData('a b', 4, BYTES.length)).toEqual(BYTES)
    expect(seen[1]!.url).toBe(`/vdi/a%20b/data?offset=4&length=${BYTES.length}`)
    expect(await c.metrics()).toBe('bw_objects 3\n')
  })

  it("an error answer is an ApiError with the node's message, code and status — for JSON and byte calls", async () => {
    const c = new ApiClient(base)
    for (const p of [c.getVdi('gone'), c.readData('gone', 0, 1)]) {
      const e = await failure(p)
      expect(e).toBeInstanceOf(ApiError)
      expect(e.message).toBe('VDI gone was deleted')
      expect((e as ApiError).code).toBe('DELETED')
      expect((e as ApiError).status).toBe(410)
    }
    const missing = await failure(c.location('x', 1))
    expect([missing.message, (missing as ApiError).code]).toEqual(['no such endpoint /vdi/x/location', 'NOT_FOUND'])
  })

  it('an error answer without a body: the HTTP status speaks; a 2xx that is not JSON is malformed', async () => {
    const c = new ApiClient(base + 'bodyless')
    const e = await failure(c.status())
    expect(e).toBeInstanceOf(ApiError)
    expect([e.message, (e as ApiError).code, (e as ApiError).status]).toEqual(['HTTP 502 Bad Gateway', 'INTERNAL', 502])
    const m = await failure(new ApiClient(base + 'notjson').status())
    expect(m).toBeInstanceOf(MalformedAnswerError)
    expect(m.message).toBe(`node at ${base}notjson sent a malformed answer (not a JSON object)`)
  })

  it('the deadline covers the headers and the body', async () => {
    const noHeaders = await failure(new ApiClient(base + 'no-headers', 200).status())
    expect(noHeaders).toBeInstanceOf(UnreachableError)
    expect((noHeaders as UnreachableError).reason).toBe('timeout')
    expect(noHeaders.message).toBe(`node at ${base}no-headers did not answer GET /status within 200 ms`)
    const started = Date.now()
    const stalled = await failure(new ApiClient(base + 'stall-body', 300).status())
    expect((stalled as UnreachableError).reason).toBe('timeout')
    expect(Date.now() - started).toBeLessThan(5_000)
    // data calls have their own deadline
    const data = await failure(new ApiClient(base + 'no-headers', { timeoutMs: 60_000, dataTimeoutMs: 150 }).readData('a', 0, 1))
    expect(data.message).toMatch(/did not answer GET \/vdi\/a\/data\?offset=0&length=1 within 150 ms/)
  })

  it('a refused connection is UnreachableError "refused"', async () => {
    const e = await failure(new ApiClient(deadBase, 2_000).status())
    expect(e).toBeInstanceOf(UnreachableError)
    expect((e as UnreachableError).reason).toBe('refused')
    expect(e.message).toBe(`cannot reach node at ${deadBase}: ECONNREFUSED`)
  })
})

describe("the workload's judgement of the client's errors (opFailure)", () => {
  it('4xx and refused are definite, with the messages and codes the history records', async () => {
    const gone = opFailure(await failure(new ApiClient(base).getVdi('gone')), node, 1000)
    expect([gone.kind, gone.code, gone.definite, gone.message]).toEqual(['client', 'DELETED', true, 'VDI gone was deleted'])
    const refused = opFailure(await failure(new ApiClient(deadBase).status()), node, 1000)
    expect([refused.kind, refused.code, refused.definite, refused.message]).toEqual(['network', 'REFUSED', true, 'node 4: connection refused'])
  })

  it('5xx, timeouts and malformed answers are of unknown outcome', async () => {
    const server5xx = opFailure(await failure(new ApiClient(base + 'bodyless').status()), node, 1000)
    expect([server5xx.kind, server5xx.code, server5xx.definite]).toEqual(['server', 'INTERNAL', false])
    const slow = opFailure(await failure(new ApiClient(base + 'no-headers', 100).status()), node, 100)
    expect([slow.kind, slow.code, slow.definite, slow.message]).toEqual(['timeout', 'TIMEOUT', false, 'node 4 did not answer within 100 ms'])
    const bad = opFailure(await failure(new ApiClient(base + 'notjson').status()), node, 1000)
    expect([bad.kind, bad.code, bad.definite, bad.message]).toEqual(['server', 'INTERNAL', false, 'node 4 sent a malformed answer'])
  })
})
