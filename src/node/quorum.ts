// The write quorum: a node coordinates VDI writes only while its view holds a majority of the
// members it knows of, counting those it heard before a restart. Views are not agreed by
// consensus, so two sides of a partition each place an object on the members they see and each
// acknowledge writes to it; after the heal the higher version wins, and under clock skew that
// can be the older write: an acknowledged write lost. Only one side can hold a majority.
// Discards need it too (they cover versions up to their HLC, and a minority may not have seen
// the newest); whole-VDI deletes do not: they cover every version of their generation.
//
// The members known are persisted (`members`, one peer id a line, written atomically) so that
// a node restarted inside a minority does not take itself for a cluster of one; a member leaves
// the count when it announces its leaving (a clean stop) or the view evicts it (silent past
// evictAfterMs), never for falling silent: that is what a partition looks like.
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { writeFileAtomic } from '../store/atomicFile.js'
import { MAX_PEER_ID_LENGTH } from '../membership/constants.js'

export const MEMBERS_FILE = 'members'
/** more known members than this in the file is not a file this node wrote */
const MAX_KNOWN = 4096

export class WriteQuorum {
  private readonly path: string
  private readonly known = new Set<string>()
  private chain: Promise<unknown> = Promise.resolve()
  private savedKey = ''

  constructor (dataDir: string, private readonly self: string) {
    this.path = join(dataDir, MEMBERS_FILE)
    this.known.add(self)
  }

  /** loads the members known before a restart; a problem (unreadable, malformed) is returned, and the node starts knowing only itself */
  async load (): Promise<string | undefined> {
    let text: string
    try {
      text = await readFile(this.path, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      return `${this.path}: cannot be read: ${(err as Error).message}`
    }
    const ids = text.split('\n').filter((l) => l !== '')
    const bad = ids.find((id) => id.length > MAX_PEER_ID_LENGTH || !/^[1-9A-HJ-NP-Za-km-z]+$/.test(id))
    if (ids.length > MAX_KNOWN || bad !== undefined) {
      return `${this.path}: ${ids.length > MAX_KNOWN ? `${ids.length} ids (at most ${MAX_KNOWN})` : `holds ${JSON.stringify(bad!.slice(0, 60))}, not a peer id`}; the write quorum counts only the members heard since start`
    }
    for (const id of ids) this.known.add(id)
    this.savedKey = [...this.known].sort().join('\n')
    return undefined
  }

  /** members the view knows now (live or silent), and those that announced their leaving: persisted when the set changed */
  async heard (ids: Iterable<string>, departed: Iterable<string> = []): Promise<void> {
    for (const id of ids) this.known.add(id)
    for (const id of departed) if (id !== this.self) this.known.delete(id)
    await this.save()
  }

  /** members the view evicted: they no longer count */
  async forget (ids: Iterable<string>): Promise<void> {
    for (const id of ids) if (id !== this.self) this.known.delete(id)
    await this.save()
  }

  get size (): number { return this.known.size }

  /** why this node may not coordinate writes with `live` members in its view (itself included), or undefined */
  refusal (live: number): string | undefined {
    if (live * 2 > this.known.size) return undefined
    return `this node sees ${live} of the ${this.known.size} members it knows: writes need a majority (${Math.floor(this.known.size / 2) + 1}), so that two sides of a partition never both accept them; retry once the cluster heals`
  }

  private async save (): Promise<void> {
    const run = this.chain.then(async () => {
      const key = [...this.known].sort().join('\n')
      if (key === this.savedKey) return
      await writeFileAtomic(this.path, key + '\n')
      this.savedKey = key
    })
    this.chain = run.catch(() => {})
    await run
  }

  async idle (): Promise<void> { await this.chain }
}
