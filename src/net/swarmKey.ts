// The cluster's swarm key: a libp2p private-network pre-shared key (pnet, XSalsa20 over every
// connection before noise even starts). A node without the right key cannot finish a single
// handshake with a member, so it can neither join nor read nor delete. The file is the
// go-ipfs/libp2p text format so other tools can read it; we insist on mode 0600 like ssh does
// for its keys, because anyone who can read it is a member.
import { randomBytes } from 'node:crypto'
import { readFile, stat } from 'node:fs/promises'

export const SWARM_KEY_FILE = 'swarm.key'
/** written by `cluster rotate-key` before the rolling restart moves every node onto it */
export const NEXT_SWARM_KEY_FILE = 'swarm.key.next'
export const SWARM_KEY_ENV = 'BELLWETHER_SWARM_KEY_FILE'

const FORMAT = /^\/key\/swarm\/psk\/1\.0\.0\/\r?\n\/base16\/\r?\n([0-9a-fA-F]{64})\s*$/

export class SwarmKeyError extends Error {
  override name = 'SwarmKeyError'
}

/** pnet's own generateKey, without loading libp2p into every CLI command that reads a key */
export function generateSwarmKey (): Uint8Array {
  return new TextEncoder().encode(`/key/swarm/psk/1.0.0/\n/base16/\n${randomBytes(32).toString('hex')}`)
}

/** Validates the text form and returns it normalised (what pnet expects: LF, lowercase hex). */
export function parseSwarmKey (bytes: Uint8Array, where: string): Uint8Array {
  if (bytes.byteLength > 256) throw new SwarmKeyError(`${where} is not a swarm key: ${bytes.byteLength} bytes (a swarm key is 95)`)
  const m = FORMAT.exec(Buffer.from(bytes).toString('utf8'))
  if (m == null) throw new SwarmKeyError(`${where} is not a swarm key: expected "/key/swarm/psk/1.0.0/", "/base16/" and 64 hex digits on three lines`)
  return new TextEncoder().encode(`/key/swarm/psk/1.0.0/\n/base16/\n${m[1].toLowerCase()}`)
}

export async function readSwarmKey (path: string): Promise<Uint8Array> {
  let st
  try {
    st = await stat(path)
  } catch (err) {
    throw new SwarmKeyError(`cannot read swarm key ${path}: ${(err as Error).message}`)
  }
  if (!st.isFile()) throw new SwarmKeyError(`swarm key ${path} is not a regular file`)
  if ((st.mode & 0o077) !== 0) {
    throw new SwarmKeyError(`swarm key ${path} is readable by others (mode ${(st.mode & 0o777).toString(8)}); run: chmod 600 ${path}`)
  }
  return parseSwarmKey(await readFile(path), `swarm key ${path}`)
}
