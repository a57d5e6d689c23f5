// The node's libp2p identity, kept in its data dir so a restart (or `cluster start`) keeps
// its peer id, and so `cluster up` can mint every key first and hand out full bootstrap
// multiaddrs before any process runs. Written once, durably and create-only: two processes
// minting a key for one data dir at once both end up with the same key (the first one's).
import { readFile, mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { PrivateKey } from '@libp2p/interface'
import { writeFileAtomic } from '../store/atomicFile.js'

export const PEER_KEY_FILE = 'peer.key'

export async function loadOrCreatePeerKey (dataDir: string): Promise<PrivateKey> {
  const path = join(dataDir, PEER_KEY_FILE)
  const existing = await readKey(path)
  if (existing != null) return existing
  await mkdir(dataDir, { recursive: true })
  const key = await generateKeyPair('Ed25519')
  try {
    await writeFileAtomic(path, privateKeyToProtobuf(key), { mode: 0o600, createOnly: true })
  } catch (err: any) {
    if (err?.code !== 'EEXIST') throw new Error(`cannot write peer key ${path}: ${err?.message ?? err}`)
    // another process minted one first: that one is the node's identity
    const theirs = await readKey(path)
    if (theirs == null) throw new Error(`peer key ${path} vanished while it was being created`)
    return theirs
  }
  return key
}

async function readKey (path: string): Promise<PrivateKey | undefined> {
  let bytes: Buffer
  try {
    bytes = await readFile(path)
  } catch (err: any) {
    if (err?.code === 'ENOENT') return undefined
    throw new Error(`cannot read peer key ${path}: ${err?.message ?? err}`)
  }
  try {
    return privateKeyFromProtobuf(bytes)
  } catch (err: any) {
    throw new Error(`cannot read peer key ${path}: ${bytes.length === 0 ? 'the file is empty' : `${bytes.length} bytes that are not a private key (${err?.message ?? err})`}; ` +
      'it is the node\'s identity: restore it from a backup, or remove it only to rejoin as a new node')
  }
}

export async function peerIdOfDataDir (dataDir: string): Promise<string> {
  return peerIdFromPrivateKey(await loadOrCreatePeerKey(dataDir)).toString()
}
