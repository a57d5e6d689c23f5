// Starting a node with its admin API: what `bellwether node start` and in-process tests call.
import '../polyfill.js'
import { BellwetherNode } from './node.js'
import { AdminApi } from '../api/server.js'
import { mkdir } from 'node:fs/promises'
import { loadOrCreateApiToken } from '../api/token.js'
import type { NodeOptions, RunningNode } from './options.js'

export interface StartedNode extends RunningNode {
  readonly node: BellwetherNode
  readonly api: AdminApi
  /** what destructive admin calls must present as `Authorization: Bearer` */
  readonly apiToken: string
}

export async function startNode (opts: NodeOptions): Promise<StartedNode> {
  await mkdir(opts.dataDir, { recursive: true })
  const apiToken = opts.apiToken ?? await loadOrCreateApiToken(opts.dataDir)
  const node = new BellwetherNode(opts)
  await node.start()
  const api = new AdminApi(node, opts.api, { token: apiToken, enableChaos: opts.enableChaos === true })
  try {
    await api.start()
  } catch (err) {
    await node.stop()
    throw new Error(`cannot listen for the admin API on ${opts.api}: ${(err as Error).message}`)
  }
  return {
    node,
    api,
    apiToken,
    peerId: node.self,
    apiUrl: api.url,
    multiaddrs: node.multiaddrs(),
    stop: async () => {
      await api.stop()
      await node.stop()
    }
  }
}
