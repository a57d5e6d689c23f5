// `bellwether vdi create|list|write|read|delete|discard|object location`, like dog's vdi
// commands, through one node's admin API.

import { Command, InvalidArgumentError } from 'commander'
import { CliError, EXIT, shortPeerId } from '../output.js'
import { formatObjectRanges, parseObjectRanges } from '../../vdi/objectRanges.js'
import { formatSize } from '../units.js'
import { DEFAULT_COPIES, readClusterFile } from '../../cluster/clusterFile.js'
import { action, addNodeSelect, intArg, pickNode, printerFor, sizeArg, type CommonOpts, type Ctx } from './shared.js'

const DEFAULT_OBJECT_SIZE = 4 * 1024 * 1024

interface CreateOpts extends CommonOpts { copies?: number; objectSize: number; prealloc?: boolean }

export function vdiCommand (ctx: Ctx): Command {
  const vdi = new Command('vdi').description('virtual disk images')

  addNodeSelect(vdi.command('create'))
    .description('create a VDI')
    .argument('<name>', 'VDI name')
    .argument('<size>', 'size, e.g. 1G, 64M, 4096', sizeArg('size', 1))
    .option('--copies <c>', 'replication factor (default: the cluster\'s, else 3)', intArg('--copies', 1, 255))
    .option('--object-size <s>', 'object size', sizeArg('object size', 1), DEFAULT_OBJECT_SIZE)
    .option('--prealloc', 'allocate every object now')
    .action(action(ctx, async (name: string, size: number, o: CreateOpts) => {
      const p = printerFor(ctx, o)
      const t = await pickNode(o)
      const file = t.file ?? await readClusterFile(o.dir).catch(() => undefined)
      const copies = o.copies ?? file?.copies ?? DEFAULT_COPIES
      const info = await t.client.createVdi({ name, size, copies, objectSize: o.objectSize, prealloc: o.prealloc === true })
      if (o.json === true) p.printJson(info)
      else p.line(`created VDI ${info.name}: vid ${info.vid}, size ${formatSize(info.size)}, copies ${info.copies}, object size ${formatSize(info.objectSize)}, ${info.objects} objects`)
      return EXIT.OK
    }))

  addNodeSelect(vdi.command('list'))
    .description('list live VDIs')
    .action(action(ctx, async (o: CommonOpts) => {
      const p = printerFor(ctx, o)
      const { vdis } = await (await pickNode(o)).client.vdis()
      if (o.json === true) p.printJson({ vdis })
      else {
        p.table(['NAME', 'VID', 'SIZE', 'COPIES', 'OBJECT SIZE', 'OBJECTS', 'GENERATION'], vdis.map((v) =>
          [v.name, v.vid, formatSize(v.size), String(v.copies), formatSize(v.objectSize), String(v.objects), String(v.generation)]))
      }
      return EXIT.OK
    }))

  addNodeSelect(vdi.command('write'))
    .description('write the data on stdin at OFFSET')
    .argument('<name>', 'VDI name')
    .argument('<offset>', 'byte offset, e.g. 0, 4M', sizeArg('offset'))
    .action(action(ctx, async (name: string, offset: number, o: CommonOpts) => {
      const p = printerFor(ctx, o)
      const t = await pickNode(o)
      const data = await readAll(ctx.io.stdin)
      if (data.length === 0) throw new CliError('no data on stdin', EXIT.USAGE)
      const res = await t.client.writeData(name, offset, data)
      if (o.json === true) p.printJson(res)
      else p.line(`wrote ${res.written} bytes to ${name} at offset ${offset} (${res.objects} objects)`)
      return EXIT.OK
    }))

  addNodeSelect(vdi.command('read'))
    .description('write LENGTH bytes of the VDI from OFFSET to stdout (raw)')
    .argument('<name>', 'VDI name')
    .argument('<offset>', 'byte offset', sizeArg('offset'))
    .argument('<length>', 'bytes to read, e.g. 4096, 1M', sizeArg('length'))
    .action(action(ctx, async (name: string, offset: number, length: number, o: CommonOpts) => {
      const t = await pickNode(o)
      const data = await t.client.readData(name, offset, length)
      await printerFor(ctx, o).raw(data)
      return EXIT.OK
    }))

  addNodeSelect(vdi.command('delete'))
    .description('delete a VDI (exit 5 if there is none)')
    .argument('<name>', 'VDI name')
    .action(action(ctx, async (name: string, o: CommonOpts) => {
      const p = printerFor(ctx, o)
      const res = await (await pickNode(o)).client.deleteVdi(name)
      if (o.json === true) p.printJson(res)
      else p.line(`deleted VDI ${res.vdi.name} (vid ${res.vdi.vid}, generation ${res.vdi.generation}; ${res.records} delete record${res.records === 1 ? '' : 's'})`)
      return EXIT.OK
    }))

  addNodeSelect(vdi.command('discard'))
    .description('delete some objects of a VDI')
    .argument('<name>', 'VDI name')
    .requiredOption('--objects <list>', 'object indexes, e.g. 0-3,7,10-12', (v: string) => formatObjectRanges(parseObjectRangesArg(v)))
    .action(action(ctx, async (name: string, o: CommonOpts & { objects: string }) => {
      const p = printerFor(ctx, o)
      const res = await (await pickNode(o)).client.discard(name, o.objects)
      if (o.json === true) p.printJson(res)
      else p.line(`discarded ${res.discarded} objects of ${name} (${res.records} delete record${res.records === 1 ? '' : 's'})`)
      return EXIT.OK
    }))

  const object = vdi.command('object').description('objects of a VDI')
  addNodeSelect(object.command('location'))
    .description('where object INDEX of the VDI should be and who holds it')
    .argument('<name>', 'VDI name')
    .requiredOption('--index <i>', 'object index', intArg('--index', 0, 0xffffffff))
    .action(action(ctx, async (name: string, o: CommonOpts & { index: number }) => {
      const p = printerFor(ctx, o)
      const loc = await (await pickNode(o)).client.location(name, o.index)
      if (o.json === true) {
        p.printJson(loc)
        return EXIT.OK
      }
      p.line(`object ${loc.oid} (${name} index ${o.index})`)
      p.line(`placement: ${loc.placement.map(shortPeerId).join(', ') || '(none)'}`)
      const placed = new Set(loc.placement)
      p.table(['HOLDER', 'VERSION', 'CHECKSUM', 'PLACED'], loc.holders.map((h) =>
        [h.peerId, h.version, String(h.checksum), placed.has(h.peerId) ? 'yes' : 'no']))
      return EXIT.OK
    }))

  return vdi
}

function parseObjectRangesArg (v: string): Uint32Array {
  try {
    return parseObjectRanges(v)
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message)
  }
}

async function readAll (stdin: AsyncIterable<Uint8Array | string>): Promise<Uint8Array> {
  const chunks: Buffer[] = []
  for await (const c of stdin) chunks.push(typeof c === 'string' ? Buffer.from(c) : Buffer.from(c.buffer, c.byteOffset, c.byteLength))
  return Buffer.concat(chunks)
}
