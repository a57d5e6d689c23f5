// The admin API token: one per cluster (`cluster up` writes DIR/api.token beside the swarm
// key) or, for a node started by hand without one, per node (DATA/api.token). Destructive
// calls need it everywhere and every call needs it when the API listens off loopback. Clients
// in this process (the CLI, chaos runs, tests) present the token set by useApiToken.
import { randomBytes, timingSafeEqual } from 'node:crypto'
import { readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { writeSecretFile } from '../store/secretFile.js'

export const API_TOKEN_FILE = 'api.token'
export const API_TOKEN_ENV = 'BELLWETHER_API_TOKEN_FILE'

const TOKEN = /^[A-Za-z0-9_-]{16,256}$/

export class ApiTokenError extends Error {
  override name = 'ApiTokenError'
}

export function generateApiToken (): string {
  return randomBytes(32).toString('base64url')
}

export async function readApiToken (path: string): Promise<string> {
  let st
  try {
    st = await stat(path)
  } catch (err) {
    throw new ApiTokenError(`cannot read API token ${path}: ${(err as Error).message}`)
  }
  if (!st.isFile() || st.size > 1024) throw new ApiTokenError(`API token ${path} is not a small regular file`)
  if ((st.mode & 0o077) !== 0) throw new ApiTokenError(`API token ${path} is readable by others (mode ${(st.mode & 0o777).toString(8)}); run: chmod 600 ${path}`)
  const token = (await readFile(path, 'utf8')).trim()
  if (!TOKEN.test(token)) throw new ApiTokenError(`API token ${path} must hold 16 to 256 characters of [A-Za-z0-9_-]`)
  return token
}

export async function writeApiToken (path: string, token = generateApiToken()): Promise<string> {
  await writeSecretFile(path, new TextEncoder().encode(token + '\n'))
  return token
}

/** The node's own token when it was given none: kept in its data dir across restarts. */
export async function loadOrCreateApiToken (dataDir: string): Promise<string> {
  const path = join(dataDir, API_TOKEN_FILE)
  try {
    return await writeApiToken(path)
  } catch (err) {
    if ((err as { code?: string }).code !== 'EEXIST') throw err
  }
  return await readApiToken(path)
}

/** Constant-time check of an Authorization header against the token. */
export function bearerMatches (header: string | undefined, token: string): boolean {
  if (header === undefined || !header.startsWith('Bearer ')) return false
  const got = Buffer.from(header.slice(7).trim())
  const want = Buffer.from(token)
  return got.byteLength === want.byteLength && timingSafeEqual(got, want)
}

let processToken: string | undefined

/** The token every admin API client in this process presents from now on. */
export function useApiToken (token: string | undefined): void {
  processToken = token
}

export function currentApiToken (): string | undefined {
  return processToken
}

/** Reads a cluster's token (DIR/api.token) for this process's clients, unless the
 *  environment names a token file, which wins; a cluster dir without one is left alone. */
export async function useClusterToken (dir: string): Promise<void> {
  const fromEnv = process.env[API_TOKEN_ENV]
  if (fromEnv !== undefined && fromEnv !== '') { useApiToken(await readApiToken(fromEnv)); return }
  try {
    useApiToken(await readApiToken(join(dir, API_TOKEN_FILE)))
  } catch (err) {
    if (!/ENOENT/.test((err as Error).message)) throw err
  }
}

/** Headers for a call to an admin API: the token when this process has one. */
export function apiHeaders (contentType?: string): Record<string, string> {
  const h: Record<string, string> = {}
  if (contentType !== undefined) h['content-type'] = contentType
  if (processToken !== undefined) h.authorization = `Bearer ${processToken}`
  return h
}
