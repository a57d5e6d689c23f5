// The admin API's error mapping (src/api/server.ts dispatch + src/api/http.ts) on a real HTTP
// server on 127.0.0.1 port 0 in front of a fake node (no cluster, no libp2p): unknown path 404,
// known path with another method 405, the VDI layer's coded errors to their statuses (404, 410,
// 503), an oversized body 413, anything else 500 INTERNAL — and only the unexpected ones are
// logged as failures. Every answer is JSON { error, code }.
import { request } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AdminApi, type AdminNode } from '../../src/api/server.js'
import { VdiError } from '../../src/vdi/inode.js'
import { NodeMetrics } from '../../src/node/metrics.js'
import { memoryLogger } from '../helpers/fakePubsub.js'

const log = memoryLogger()
/** what the fake VDI layer does on the next lookup */
let lookup: (name: string) => Promise<unknown> = async () => { throw new Error('not set') }
let joining: string | undefined
/** why the fake node's delete log cannot be written (undefined: it can) */
let unavailable: string | undefined
const metrics = new NodeMetrics({ processMetrics: false })
const node = {
  log,
  metrics,
  joining: () => joining,
  unavailable: () => unavailable,
  vdis: {
    lookup: async (name: string) => await lookup(name),
    create: async () => { throw new Error('create must not be reached') }
  }
} as unknown as AdminNode

let api: AdminApi
let base = ''

beforeAll(async () => {
  api = new AdminApi(node, '127.0.0.1:0', { token: 'test-token-test-token', enableChaos: false })
  await api.start()
  base = api.url
})
afterAll(async () => { await api.stop() })

interface Answer { status: number, body: any }

async function call (method: string, path: string, opts: { body?: Buffer, headers?: Record<string, string | number> } = {}): Promise<Answer> {
  return await new Promise((resolve, reject) => {
    const req = request(`${base}${path}`, { method, headers: opts.headers }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8')
        try {
          resolve({ status: res.statusCode!, body: JSON.parse(text) })
        } catch {
          reject(new Error(`${method} ${path} → ${String(res.statusCode)}, not JSON: ${text.slice(0, 200)}`))
        }
      })
    })
    // the server may answer (413) and close before taking the whole body
    req.on('error', (err) => { if ((err as NodeJS.ErrnoException).code !== 'EPIPE' && (err as NodeJS.ErrnoException).code !== 'ECONNRESET') reject(err) })
    req.end(opts.body)
  })
}

const failures = (): string[] => log.lines.filter((l) => l.level === 'error').map((l) => String(l.obj.err).split('\n')[0]!)

describe('admin API error mapping', () => {
  it('404 for a path no route has', async () => {
    expect(await call('GET', '/nope')).toEqual({ status: 404, body: { error: 'no such endpoint /nope', code: 'NOT_FOUND' } })
  })

  it('405 for a known path with another method', async () => {
    expect(await call('PUT', '/members')).toEqual({ status: 405, body: { error: 'method PUT not allowed on /members', code: 'BAD_REQUEST' } })
    expect(await call('POST', '/vdi/a')).toEqual({ status: 405, body: { error: 'method POST not allowed on /vdi/a', code: 'BAD_REQUEST' } })
  })

  it("the VDI layer's coded errors keep their meaning: NOT_FOUND 404, DELETED 410, UNAVAILABLE 503", async () => {
    const before = failures().length
    lookup = async (name) => { throw new VdiError(`VDI '${name}' not found`, 'NOT_FOUND') }
    expect(await call('GET', '/vdi/gone')).toEqual({ status: 404, body: { error: "VDI 'gone' not found", code: 'NOT_FOUND' } })
    lookup = async () => { throw new VdiError('object 0000070000000000 is deleted', 'DELETED') }
    expect(await call('GET', '/vdi/old')).toEqual({ status: 410, body: { error: 'object 0000070000000000 is deleted', code: 'DELETED' } })
    lookup = async () => { throw new VdiError('object 0000070000000000 unreadable: p1: timeout', 'UNAVAILABLE') }
    expect(await call('GET', '/vdi/far')).toEqual({ status: 503, body: { error: 'object 0000070000000000 unreadable: p1: timeout', code: 'UNAVAILABLE' } })
    // expected refusals are answers, not failures of the node
    expect(failures().length).toBe(before)
  })

  it('503 for VDI calls while the delete log cannot be written, before the handler runs, counted', async () => {
    unavailable = 'delete log /d/deletes.log cannot be written (ENOSPC: no space left on device)'
    try {
      lookup = async () => { throw new Error('the handler must not run while the delete log is unavailable') }
      expect(await call('GET', '/vdi/x')).toEqual({ status: 503, body: { error: `node unavailable: ${unavailable}`, code: 'UNAVAILABLE' } })
      expect((await metrics.refusedUnavailable.get()).values.find((v) => v.labels.path === 'api')?.value).toBe(1)
    } finally {
      unavailable = undefined
    }
  })

  it('503 for VDI calls while the node is still joining, before the handler runs', async () => {
    joining = 'joining the cluster: no peer has agreed on the member set yet'
    try {
      lookup = async () => { throw new Error('the handler must not run while joining') }
      expect(await call('GET', '/vdi/x')).toEqual({ status: 503, body: { error: joining, code: 'UNAVAILABLE' } })
    } finally {
      joining = undefined
    }
  })

  it('413 for a JSON body over the 1 MiB limit, declared or streamed', async () => {
    const big = Buffer.from(JSON.stringify({ name: 'x'.repeat(1024 * 1024) }))
    const declared = await call('POST', '/vdi', { body: big, headers: { 'content-type': 'application/json', 'content-length': big.length } })
    expect(declared).toEqual({ status: 413, body: { error: `request body of ${big.length} bytes exceeds the 1048576-byte limit`, code: 'BAD_REQUEST' } })
    // no content-length (chunked): counted while read
    const streamed = await call('POST', '/vdi', { body: big, headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' } })
    expect(streamed).toEqual({ status: 413, body: { error: 'request body exceeds the 1048576-byte limit', code: 'BAD_REQUEST' } })
  })

  it('500 INTERNAL for anything else, logged as a failure with its stack', async () => {
    const before = failures().length
    lookup = async () => { throw new TypeError("Cannot read properties of undefined (reading 'vid')") }
    expect(await call('GET', '/vdi/bug')).toEqual({ status: 500, body: { error: "Cannot read properties of undefined (reading 'vid')", code: 'INTERNAL' } })
    // a code the API does not know (a system error) is not passed off as a known answer
    lookup = async () => { throw Object.assign(new Error('EIO: i/o error, read'), { code: 'EIO' }) }
    expect(await call('GET', '/vdi/disk')).toEqual({ status: 500, body: { error: 'EIO: i/o error, read', code: 'INTERNAL' } })
    expect(failures().slice(before)).toEqual([
      "TypeError: Cannot read properties of undefined (reading 'vid')",
      'Error: EIO: i/o error, read'
    ])
  })
})
