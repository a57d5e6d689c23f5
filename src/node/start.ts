// Starting a node with its admin API: what `bellwether node start` and in-process tests call.
import '../polyfill.js'
import { BellwetherNode } from './node.js'
import { AdminApi } from '../api/server.js'
import type { NodeOptions, RunningNode } from './options.js'

export interface StartedNode extends RunningNode {
  readonly node: BellwetherNode
  readonly api: AdminApi
}

export async function startNode (opts: NodeOptions): Promise<StartedNode> {
  const node = new BellwetherNode(opts)
  await node.start()
  const api = new AdminApi(node, opts.api)
  try {
    await api.start()
  } catch (err) {
    await node.stop()
    throw new Error(`cannot listen for the admin API on ${opts.api}: ${(err as Error).message}`)
  }
  return {
    node,
    api,
    peerId: node.self,
    apiUrl: api.url,
    multiaddrs: node.multiaddrs(),
    stop: async () => {
      await api.stop()
      await node.stop()
    }
  }
}
