// Carries out nemesis faults on a running local cluster and heals them: partitions through
// the same functions `chaos partition/heal` call (src/chaos/faults.ts), kills and restarts
// through the `cluster kill/start` commands (their pid bookkeeping lives there), pauses with
// SIGSTOP/SIGCONT on verified pids, clock skew through each node's admin API. Process spawns
// cost seconds under load, so only kill/start pay for one. It remembers what it broke
// (killed, paused, skewed nodes, a partition in place), so healAll() can undo everything at
// the end of a run or after a failure, and a restarted node gets its skew back.
import { ApiClient } from '../api/client.js'
import { readClusterFile, type ClusterFile } from '../cluster/clusterFile.js'
import { processState } from '../cluster/launcher.js'
import { bw } from './bw.js'
import { healCluster, partitionCluster } from './faults.js'
import type { Fault } from './nemesis.js'
import { pairsPlan } from './shapes.js'

export type PartitionMode = 'app' | 'os' | 'netns'

export interface FaultEvent { f: 'partition' | 'heal' | 'kill' | 'start' | 'pause' | 'resume' | 'skew', value: string, ok: boolean, error?: string }

/** skews go only to running, unpaused nodes: a slow answer on a loaded machine is not a failed fault */
const API_TIMEOUT_MS = 15_000

export class NemesisExecutor {
  private readonly killed = new Set<number>()
  private readonly paused = new Set<number>()
  private readonly skews = new Map<number, number>()
  private partitioned = false

  constructor (private readonly dir: string, private readonly mode: PartitionMode, private readonly emit: (e: FaultEvent) => void) {}

  async apply (fault: Fault): Promise<void> {
    switch (fault.kind) {
      case 'partition': {
        const value = `${fault.shape} ${fault.cuts.map(([a, b]) => `${a}-${b}`).join(' ')}`
        this.partitioned = true
        await this.record('partition', value, async () => {
          const file = await this.file()
          const r = await partitionCluster(this.dir, file, pairsPlan(fault.cuts, file.nodes.map((n) => n.index)), this.mode)
          if (!r.ok) throw new Error(r.nodes.filter((x) => !x.ok).map((x) => `node ${x.index}: ${x.error ?? 'failed'}`).join('; '))
        })
        return
      }
      case 'kill':
        this.killed.add(fault.node)
        await this.step('kill', String(fault.node), ['cluster', 'kill', '--node', String(fault.node), '--dir', this.dir])
        return
      case 'pause':
        this.paused.add(fault.node)
        await this.record('pause', String(fault.node), async () => { await this.signal(fault.node, 'SIGSTOP') })
        return
      case 'skew':
        await this.skew(fault.node, fault.offsetMs)
    }
  }

  /** undo one fault; skews stay (they overlap later faults and are reset by healAll) */
  async heal (fault: Fault): Promise<void> {
    switch (fault.kind) {
      case 'partition': await this.healPartition(); return
      case 'kill': await this.restart(fault.node); return
      case 'pause': await this.resume(fault.node)
    }
  }

  /** everything back to normal: resume, restart, heal, clocks to 0; keeps going past failures and reports them */
  async healAll (): Promise<string[]> {
    const errors: string[] = []
    const attempt = async (what: () => Promise<void>): Promise<void> => { await what().catch((e) => { errors.push(String((e as Error).message ?? e)) }) }
    for (const i of [...this.paused]) await attempt(async () => await this.resume(i))
    for (const i of [...this.killed]) await attempt(async () => await this.restart(i))
    // heal even if we think nothing is cut: a failed partition command may have cut half the cluster
    await attempt(async () => await this.healPartition())
    for (const i of [...this.skews.keys()]) await attempt(async () => await this.skew(i, 0))
    return errors
  }

  private async healPartition (): Promise<void> {
    this.partitioned = false
    await this.record('heal', 'partition', async () => {
      const r = await healCluster(this.dir, await this.file(), this.mode)
      if (!r.ok) throw new Error([...r.errors, ...r.nodes.filter((x) => !x.ok).map((x) => `node ${x.index}: ${x.error ?? 'failed'}`)].join('; '))
    })
  }

  private async restart (node: number): Promise<void> {
    await this.step('start', String(node), ['cluster', 'start', '--node', String(node), '--dir', this.dir])
    this.killed.delete(node)
    // a fresh process starts with the wall clock; give it back the skew it had
    const offset = this.skews.get(node)
    if (offset !== undefined && offset !== 0) await this.skew(node, offset)
  }

  private async resume (node: number): Promise<void> {
    await this.record('resume', String(node), async () => { await this.signal(node, 'SIGCONT') })
    this.paused.delete(node)
  }

  private async file (): Promise<ClusterFile> {
    const f = await readClusterFile(this.dir)
    if (f === undefined) throw new Error(`no cluster file in ${this.dir}`)
    return f
  }

  /** a signal only to a pid /proc shows is still this cluster's node (pids get reused) */
  private async signal (node: number, sig: 'SIGSTOP' | 'SIGCONT'): Promise<void> {
    const n = (await this.file()).nodes.find((x) => x.index === node)
    if (n === undefined) throw new Error(`no node ${node} in the cluster at ${this.dir}`)
    if ((await processState(n.pid, n.dataDir)) !== 'ours') throw new Error(`node ${node} is not running`)
    process.kill(n.pid!, sig)
  }

  private async record (f: FaultEvent['f'], value: string, fn: () => Promise<void>): Promise<void> {
    try {
      await fn()
      this.emit({ f, value, ok: true })
    } catch (err) {
      this.emit({ f, value, ok: false, error: String((err as Error).message ?? err).slice(0, 500) })
      throw new Error(`${f} ${value}: ${(err as Error).message}`)
    }
  }

  private async skew (node: number, offsetMs: number): Promise<void> {
    const file = await readClusterFile(this.dir)
    const n = file?.nodes.find((x) => x.index === node)
    if (n === undefined) throw new Error(`skew: no node ${node} in the cluster at ${this.dir}`)
    if (offsetMs === 0) this.skews.delete(node)
    else this.skews.set(node, offsetMs)
    // a killed or paused node cannot be asked now; restart() re-applies, resume needs nothing
    if (this.killed.has(node) || this.paused.has(node)) { this.emit({ f: 'skew', value: `${node} ${offsetMs} (deferred)`, ok: true }); return }
    try {
      await new ApiClient(n.apiUrl, API_TIMEOUT_MS).skew(offsetMs)
      this.emit({ f: 'skew', value: `${node} ${offsetMs}`, ok: true })
    } catch (err) {
      this.emit({ f: 'skew', value: `${node} ${offsetMs}`, ok: false, error: (err as Error).message })
      throw err
    }
  }

  private async step (f: FaultEvent['f'], value: string, args: string[]): Promise<void> {
    const r = await bw(args)
    this.emit({ f, value, ok: r.code === 0, error: r.code === 0 ? undefined : (r.stderr.trim() || r.stdout.trim()).slice(0, 500) })
    if (r.code !== 0) throw new Error(`${f} ${value}: bellwether ${args.join(' ')} → exit ${r.code}: ${r.stderr.trim().slice(0, 500)}`)
  }

  get active (): { killed: number[], paused: number[], skewed: number[], partitioned: boolean } {
    return { killed: [...this.killed], paused: [...this.paused], skewed: [...this.skews.keys()], partitioned: this.partitioned }
  }
}
