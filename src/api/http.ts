// Small HTTP plumbing for the admin API: JSON answers, bounded request bodies, errors
// mapped to the codes in docs/API.md. No framework: node:http is enough for loopback admin.
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { ApiErrorCode, ErrorBody } from './types.js'

export class HttpError extends Error {
  constructor (readonly status: number, message: string, readonly code: ApiErrorCode) { super(message) }
}

export const CODE_STATUS: Record<ApiErrorCode, number> = {
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  NOT_FOUND: 404,
  EXISTS: 409,
  DELETED: 410,
  UNSUPPORTED_MEDIA_TYPE: 415,
  MISDIRECTED: 421,
  UNAVAILABLE: 503,
  INTERNAL: 500
}

export function sendJson (res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body, (_k, v) => typeof v === 'bigint' ? v.toString(16) : v)
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
  res.end(text)
}

export function sendError (res: ServerResponse, err: unknown): void {
  const answer = (status: number, body: ErrorBody): void => { sendJson(res, status, body) }
  if (err instanceof HttpError) { answer(err.status, { error: err.message, code: err.code }); return }
  const code = (err as { code?: unknown })?.code
  if (typeof code === 'string' && code in CODE_STATUS) {
    answer(CODE_STATUS[code as ApiErrorCode], { error: (err as Error).message, code: code as ApiErrorCode })
    return
  }
  answer(500, { error: String((err as Error)?.message ?? err), code: 'INTERNAL' })
}

export async function readBody (req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0)
  if (declared > limit) throw new HttpError(413, `request body of ${declared} bytes exceeds the ${limit}-byte limit`, 'BAD_REQUEST')
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    size += (chunk as Buffer).byteLength
    if (size > limit) throw new HttpError(413, `request body exceeds the ${limit}-byte limit`, 'BAD_REQUEST')
    chunks.push(chunk as Buffer)
  }
  return Buffer.concat(chunks)
}

export async function readJson (req: IncomingMessage, limit = 1024 * 1024): Promise<Record<string, unknown>> {
  // a browser page may POST text/plain anywhere without asking first; application/json needs
  // a CORS preflight we never answer, so requiring it keeps web pages out of the admin API
  const type = String(req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase()
  const body = await readBody(req, limit)
  if (body.length > 0 && type !== 'application/json') {
    throw new HttpError(415, `request body must be sent as content-type application/json, got '${type === '' ? 'none' : type}'`, 'UNSUPPORTED_MEDIA_TYPE')
  }
  try {
    const v = JSON.parse(body.length === 0 ? '{}' : body.toString('utf8'))
    if (v == null || typeof v !== 'object' || Array.isArray(v)) throw new Error('not an object')
    return v
  } catch (err) {
    throw new HttpError(400, `request body is not a JSON object: ${(err as Error).message}`, 'BAD_REQUEST')
  }
}

export function intParam (q: URLSearchParams, name: string, required = true): number {
  const raw = q.get(name)
  if (raw == null) {
    if (required) throw new HttpError(400, `missing query parameter '${name}'`, 'BAD_REQUEST')
    return 0
  }
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(Number(raw))) throw new HttpError(400, `query parameter '${name}' must be a non-negative integer, got '${raw}'`, 'BAD_REQUEST')
  return Number(raw)
}
