// Fuzz target for the admin API's request handling (src/api/server.ts dispatch): hostile
// methods, paths (bad percent-encoding, NULs, dot segments, huge numbers), query strings,
// content types and bodies against the /vdi routes, with a stand-in node whose VDI service
// checks the name and then answers NOT_FOUND. Whatever arrives, the answer is a 4xx with a
// known code — never a 500 INTERNAL, never an error logged as unexpected, never a rejection.
import fc from 'fast-check'
import { AdminApi } from '../api/server.js'
import { VdiError, validateName } from '../vdi/inode.js'
import { FuzzViolation, type FuzzTarget } from './target.js'
import { quietLogger } from './fakes.js'

const fail = (msg: string): never => { throw new FuzzViolation(msg) }
const TOKEN = 'fuzz-token'
const ADDRESS = '127.0.0.1:1'

interface ApiInput { method: string, path: string, query: string, type?: string, body: Uint8Array, auth: boolean }

function standInNode (log: ReturnType<typeof quietLogger>): unknown {
  const missing = async (name: unknown): Promise<never> => { validateName(name); throw new VdiError(`VDI '${String(name)}' not found`, 'NOT_FOUND') }
  return {
    log,
    joining: () => undefined,
    unavailable: () => undefined,
    metrics: { refusedUnavailable: { inc: () => {} } },
    vdis: {
      list: async () => [],
      create: async (name: unknown) => await missing(name),
      lookup: missing,
      delete: missing,
      discard: missing,
      write: missing,
      read: missing,
      location: missing
    }
  }
}

const segment = (): fc.Arbitrary<string> => fc.oneof(
  fc.constantFrom('disk', '%', '%zz', '%E0%A4%A', '%C0%AF', '%00', '%2F', '..', '.', 'a%20b', '%ff%fe', 'x'.repeat(300), '%F0%9F%98%80', ''),
  fc.string({ maxLength: 12 }).map(encodeURIComponent),
  fc.string({ unit: 'binary', maxLength: 8 }).map((s) => s.replace(/[/?#]/g, '_'))
)

const apiInput = (): fc.Arbitrary<ApiInput> => fc.record({
  method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'),
  path: fc.oneof(
    segment().map((s) => `/vdi/${s}`),
    fc.tuple(segment(), fc.constantFrom('data', 'discard', 'location')).map(([s, t]) => `/vdi/${s}/${t}`),
    // ('//vdi' parses as host 'vdi', path '/': the status page, which this stand-in node cannot serve)
    fc.constantFrom('/vdi', '/vdi/', '/vdi//data', '/chaos/clock', '/nope')
  ),
  query: fc.oneof(
    fc.constant(''),
    fc.tuple(fc.constantFrom('offset', 'length', 'index', 'vid'), fc.constantFrom('0', '1', '-1', '1e3', '9007199254740993', '18446744073709551616', '%', 'x', '')).map(([k, v]) => `?${k}=${v}&length=1&index=0`)
  ),
  type: fc.option(fc.constantFrom('application/json', 'text/plain', 'application/octet-stream'), { nil: undefined }),
  body: fc.oneof(
    fc.constantFrom('', '{}', '{"name":"disk","size":4096}', '{"objects":"0-3"}', '{"objects":"3-1,x"}', '{"objects":"0-99999999999"}', '[]', '{').map((s) => new TextEncoder().encode(s)),
    fc.uint8Array({ maxLength: 24 })
  ),
  auth: fc.boolean()
})

function fakeReq (x: ApiInput): unknown {
  const headers: Record<string, string> = { host: ADDRESS }
  if (x.type !== undefined) headers['content-type'] = x.type
  if (x.auth) headers.authorization = `Bearer ${TOKEN}`
  const body = x.body
  return { method: x.method, url: `${x.path}${x.query}`, headers, async * [Symbol.asyncIterator] () { if (body.length > 0) yield Buffer.from(body) } }
}

function fakeRes (): { res: unknown, done: Promise<void>, status: () => number, text: () => string } {
  let status = 0
  let text = ''
  let resolve!: () => void
  const done = new Promise<void>((_resolve) => { resolve = _resolve })
  const res = {
    headersSent: false,
    setHeader: () => {},
    writeHead (s: number) { status = s; this.headersSent = true },
    end (b?: string | Uint8Array) { text = b == null ? '' : String(b); resolve() },
    destroy () { resolve() }
  }
  return { res, done, status: () => status, text: () => text }
}

export const adminApiTarget: FuzzTarget<ApiInput, { api: AdminApi, log: ReturnType<typeof quietLogger> }> = {
  name: 'admin-api',
  kind: 'handler',
  covers: 'src/api/server.ts: AdminApi dispatch of the /vdi routes (paths, percent-encoding, query numbers, content types, bodies)',
  arbitrary: apiInput,
  setup: async () => {
    const log = quietLogger()
    return { api: new AdminApi(standInNode(log) as ConstructorParameters<typeof AdminApi>[0], ADDRESS, { token: TOKEN, enableChaos: false }), log }
  },
  check: async (x, h) => {
    // '/vdi/..' and the like normalise to '/', the status page, which the stand-in node cannot serve
    if (!new URL(x.path, 'http://x').pathname.startsWith('/vdi') && x.path.startsWith('/vdi')) return
    const errors = h.log.errors.length
    const r = fakeRes()
    try {
      await (h.api as unknown as { dispatch: (a: unknown, b: unknown) => Promise<void> }).dispatch(fakeReq(x), r.res)
    } catch (e) { fail(`dispatch rejected: ${String((e as Error)?.stack ?? e)}`) }
    await r.done
    if (r.status() >= 500 || r.status() < 200) fail(`${x.method} ${x.path}${x.query} answered ${r.status()}: ${r.text()}`)
    if (h.log.errors.length > errors) fail(`${x.method} ${x.path}${x.query} logged an unexpected error: ${h.log.errors.slice(errors).join('; ')}`)
  }
}
