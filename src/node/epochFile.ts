// The node's persisted epochs: `epoch` (the highest membership epoch it reached, so a restart
// lands past every epoch it has seen) and `recovered-epoch` (the last epoch whose recovery
// completed). Written atomically and one write at a time, never going down: view changes come
// in bursts, and an older epoch's write finishing last would otherwise win. A file that cannot
// be read as an epoch is reported (file name and content), never silently taken as 0.
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { writeFileAtomic } from '../store/atomicFile.js'
import { MAX_EPOCH } from '../membership/constants.js'

export const EPOCH_FILE = 'epoch'
export const RECOVERED_FILE = 'recovered-epoch'

/** content shown in a problem report: enough to recognise, bounded */
const SHOW_BYTES = 40

export interface EpochRead {
  /** 0n when the file is missing or bad */
  epoch: bigint
  /** set when the file exists but does not hold an epoch: names the file and its content */
  problem?: string
}

export class EpochFile {
  readonly path: string
  private written = -1n
  private chain: Promise<unknown> = Promise.resolve()

  constructor (dataDir: string, readonly name: string) {
    this.path = join(dataDir, name)
  }

  async read (): Promise<EpochRead> {
    let text: string
    try {
      text = await readFile(this.path, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { epoch: 0n }
      return { epoch: 0n, problem: `${this.path}: cannot be read: ${(err as Error).message}` }
    }
    const epoch = parseEpoch(text)
    if (epoch === undefined) {
      const shown = JSON.stringify(text.length > SHOW_BYTES ? `${text.slice(0, SHOW_BYTES)}…` : text)
      return { epoch: 0n, problem: `${this.path}: holds ${shown} (${text.length} bytes), not an epoch number` }
    }
    this.written = epoch
    return { epoch }
  }

  /** persists `epoch` unless an equal or higher one already was; serialised */
  async write (epoch: bigint): Promise<void> {
    const run = this.chain.then(async () => {
      if (epoch <= this.written) return
      await writeFileAtomic(this.path, `${epoch}\n`)
      this.written = epoch
    })
    this.chain = run.catch(() => {})
    await run
  }

  /** resolves once every write started so far has finished (a stopping node waits for them) */
  async idle (): Promise<void> {
    await this.chain
  }
}

/**
 * A decimal number up to MAX_EPOCH and a newline, as written; anything else is not an epoch
 * (an epoch above the ceiling could only have come from a forged heartbeat, accepted before
 * epochs were bounded: the node restarts from its recovered epoch instead, and is reported).
 */
export function parseEpoch (text: string): bigint | undefined {
  const t = text.trim()
  if (!/^[0-9]{1,20}$/.test(t)) return undefined
  const v = BigInt(t)
  return v <= MAX_EPOCH ? v : undefined
}
