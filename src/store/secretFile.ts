// Secrets on disk (swarm key, API token): created once, mode 0600 from the first byte, synced
// with their directory so a crash right after `cluster up` cannot leave a node a torn key.
import { open } from 'node:fs/promises'
import { dirname } from 'node:path'

/** Create-only: a secret that exists is never overwritten (EEXIST). */
export async function writeSecretFile (path: string, bytes: Uint8Array): Promise<void> {
  const fh = await open(path, 'wx', 0o600)
  try {
    await fh.writeFile(bytes)
    await fh.sync()
  } finally {
    await fh.close()
  }
  const dir = await open(dirname(path), 'r')
  try { await dir.sync() } finally { await dir.close() }
}
