// A cluster's secrets, beside its cluster.json: the swarm key every node must present to
// connect at all (src/net/swarmKey.ts) and the admin API token destructive calls need
// (src/api/token.ts). Made once by `cluster up`, kept across `down`/`up` of the same dir
// (the nodes' data dirs are kept too), removed by `down --purge`.
import { access, mkdir } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { API_TOKEN_FILE, readApiToken, writeApiToken } from '../api/token.js'
import { NEXT_SWARM_KEY_FILE, SWARM_KEY_FILE, generateSwarmKey, readSwarmKey } from '../net/swarmKey.js'
import { writeSecretFile } from '../store/secretFile.js'

export interface ClusterSecrets {
  swarmKeyFile: string
  apiTokenFile: string
}

export function clusterSecrets (dir: string): ClusterSecrets {
  return { swarmKeyFile: join(resolve(dir), SWARM_KEY_FILE), apiTokenFile: join(resolve(dir), API_TOKEN_FILE) }
}

export function nextSwarmKeyFile (dir: string): string {
  return join(resolve(dir), NEXT_SWARM_KEY_FILE)
}

/** Creates whichever secret is missing; an existing one is validated, never replaced. */
export async function ensureClusterSecrets (dir: string): Promise<ClusterSecrets> {
  const s = clusterSecrets(dir)
  await mkdir(resolve(dir), { recursive: true })
  if (await exists(s.swarmKeyFile)) await readSwarmKey(s.swarmKeyFile)
  else await writeSecretFile(s.swarmKeyFile, generateSwarmKey())
  if (await exists(s.apiTokenFile)) await readApiToken(s.apiTokenFile)
  else await writeApiToken(s.apiTokenFile)
  return s
}

async function exists (path: string): Promise<boolean> {
  try {
    await access(path)
    return true
  } catch {
    return false
  }
}
