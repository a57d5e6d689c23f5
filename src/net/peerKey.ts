// The node's libp2p identity, kept in its data dir so a restart (or `cluster start`) keeps
// its peer id, and so `cluster up` can mint every key first and hand out full bootstrap
// multiaddrs before any process runs.
import { readFile, writeFile, rename, mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { PrivateKey } from '@libp2p/interface'

export const PEER_KEY_FILE = 'peer.key'

export async function loadOrCreatePeerKey (dataDir: string): Promise<PrivateKey> {
  const path = join(dataDir, PEER_KEY_FILE)
  try {
    return privateKeyFromProtobuf(await readFile(path))
  } catch (err: any) {
    if (err?.code !== 'ENOENT') throw new Error(`cannot read peer key ${path}: ${err?.message ?? err}`)
  }
  await mkdir(dataDir, { recursive: true })
  const key = await generateKeyPair('Ed25519')
  const tmp = `${path}.tmp-${process.pid}`
  await writeFile(tmp, privateKeyToProtobuf(key), { mode: 0o600 })
  await rename(tmp, path)
  return key
}

export async function peerIdOfDataDir (dataDir: string): Promise<string> {
  return peerIdFromPrivateKey(await loadOrCreatePeerKey(dataDir)).toString()
}
