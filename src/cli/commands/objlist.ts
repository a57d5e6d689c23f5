// `bellwether objlist`: one node's object list cache (optionally one VDI's part of it).

import { Command } from 'commander'
import { EXIT } from '../output.js'
import { action, addNodeSelect, pickNode, printerFor, type CommonOpts, type Ctx } from './shared.js'

export function objlistCommand (ctx: Ctx): Command {
  return addNodeSelect(new Command('objlist'))
    .description("a node's object list cache, oids in hex")
    .option('--vdi <name>', 'only the objects of this VDI')
    .action(action(ctx, async (o: CommonOpts & { vdi?: string }) => {
      const p = printerFor(ctx, o)
      const t = await pickNode(o)
      const vid = o.vdi === undefined ? undefined : (await t.client.getVdi(o.vdi)).vid
      const list = await t.client.objlist(vid)
      if (o.json === true) {
        p.printJson({
          node: t.node?.index ?? null,
          peerId: t.node?.peerId ?? null,
          vdi: o.vdi ?? null,
          vid: vid ?? null,
          count: list.count,
          oids: list.oids
        })
        return EXIT.OK
      }
      for (const oid of list.oids) p.line(oid)
      p.note(`${list.count} object${list.count === 1 ? '' : 's'}${t.node !== undefined ? ` on node ${t.node.index}` : ''}` +
        `${o.vdi !== undefined ? ` of VDI ${o.vdi} (vid ${vid})` : ''}`)
      return EXIT.OK
    }))
}
