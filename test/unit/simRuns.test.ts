// Whole simulator runs at small N: many seeds with faults (partitions of every mode, crashes,
// loss, duplication, reordering as each seed draws them), the invariants checked on every
// tick; the same seed gives the same event trace; the planted bug (recovery without the
// tombstone gates) is caught and its printed replay command reproduces the failure exactly;
// and `bellwether sim` prints, exits and refuses bad flags as documented.
import { describe, expect, it } from 'vitest'
import { Simulator, type SimResult } from '../../src/sim/simulator.js'
import { deriveParams, type PartitionMode, type SimOverrides } from '../../src/sim/params.js'
import { parseSimFlags } from '../../src/cli/commands/sim.js'
import { main } from '../../src/cli/main.js'
import type { CliIo } from '../../src/cli/output.js'

function simulate (seed: bigint, overrides: SimOverrides = {}): SimResult {
  return new Simulator(deriveParams(seed, overrides), overrides).run()
}

const MODES: PartitionMode[] = ['isolate', 'minority', 'halves']

describe('simulator runs', () => {
  it('60 seeds with faults: every invariant holds on every tick', () => {
    const failures: string[] = []
    let deletes = 0
    let healed = 0
    for (let s = 1; s <= 60; s++) {
      const r = simulate(BigInt(s), { partitionMode: MODES[s % 3] })
      if (r.violation !== undefined) failures.push(`${r.violation.kind}: ${r.violation.message} — ${r.replay}`)
      deletes += r.summary.afterDelete.deletes
      if (r.summary.afterHeal.at !== null) healed++
    }
    expect(failures).toEqual([])
    expect(deletes).toBeGreaterThan(100)
    expect(healed).toBe(60)
  }, 600_000)

  it('the same seed gives the same trace; another seed another', () => {
    const a = simulate(11n, { nodes: 8 })
    const b = simulate(11n, { nodes: 8 })
    expect(b.traceHash).toBe(a.traceHash)
    expect(b.events).toBe(a.events)
    expect(b.summary).toEqual(a.summary)
    expect(simulate(12n, { nodes: 8 }).traceHash).not.toBe(a.traceHash)
  }, 120_000)

  // The gates matter in a race: a node that purged asks a rejoining co-replica for its list
  // before that one has learned the delete (about a third of these seeds find it).
  it('the planted bug (skip the purge gate) is caught, and its seed replays it', () => {
    let caught: SimResult | undefined
    for (let s = 1; s <= 60 && caught === undefined; s++) {
      const r = simulate(BigInt(s), { plantBug: 'skip-purge-gate', partitionMode: MODES[s % 3] })
      if (r.violation !== undefined) caught = r
    }
    expect(caught?.violation?.kind).toBe('revival')
    // the printed command, parsed as the CLI parses it, runs the same simulation
    const argv = caught!.replay.split(' ').slice(2)
    const flags: Record<string, string> = {}
    for (let i = 0; i < argv.length; i += 2) flags[argv[i]!.slice(2).replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase())] = argv[i + 1]!
    const { seed, overrides } = parseSimFlags(flags)
    const again = simulate(seed, overrides)
    expect(again.violation).toEqual(caught!.violation)
    expect(again.traceHash).toBe(caught!.traceHash)
    // and the same seed without the bug holds
    const { plantBug: _bug, ...clean } = overrides
    expect(simulate(seed, clean).violation).toBeUndefined()
  }, 600_000)
})

interface Run { code: number, out: string, err: string }

async function cli (args: string[]): Promise<Run> {
  const out: string[] = []
  const err: string[] = []
  const sink = (into: string[]): CliIo['stdout'] => ({ write: (c: string | Uint8Array, cb?: (e?: Error | null) => void) => { into.push(String(c)); cb?.(); return true } })
  const io: CliIo = { stdout: sink(out), stderr: sink(err), stdin: (async function * () {})() }
  const code = await main(['node', 'bellwether', ...args], io)
  return { code, out: out.join(''), err: err.join('') }
}

describe('bellwether sim', () => {
  it('prints the parameters first, then progress, then the summary; exit 0', async () => {
    const r = await cli(['sim', '--nodes', '6', '--seed', '5', '--partitions', 'isolate:1'])
    expect(r.code).toBe(0)
    const lines = r.out.trim().split('\n')
    expect(lines[0]).toBe('seed=5')
    expect(lines[1]).toMatch(/^nodes=6 /)
    expect(r.out).toMatch(/\nt=[0-9.]+s tick=/)
    expect(r.out).toMatch(/\nsummary \(virtual/)
    expect(lines[lines.length - 1]).toBe('ok: every invariant held on every tick (replay: bellwether sim --nodes 6 --seed 5 --partitions isolate:1)')
  }, 120_000)

  it('exit 1 and the replay command on a violation', async () => {
    let hit: Run | undefined
    for (let s = 1; s <= 60 && hit === undefined; s++) {
      const r = await cli(['sim', '--seed', String(s), '--partitions', MODES[s % 3]!, '--plant-bug', 'skip-purge-gate'])
      if (r.code !== 0) hit = r
    }
    expect(hit?.code).toBe(1)
    expect(hit?.out).toMatch(/\nINVARIANT VIOLATED \(revival\) at t=/)
    expect(hit?.out).toMatch(/\nreplay: bellwether sim --nodes [0-9]+ --seed [0-9]+ --partitions [a-z]+ --plant-bug skip-purge-gate\n$/)
  }, 600_000)

  it.each([
    [['--loss', '0.9'], /--loss must be a probability/],
    [['--latency', 'gauss:3'], /--latency must be/],
    [['--partitions', 'often'], /--partitions must be/],
    [['--nodes', 'ten'], /--nodes must be an integer/],
    [['--seed', 'abc'], /--seed must be an integer/],
    [['--ticks', '5'], /--ticks must be an integer of at least/],
    [['--plant-bug', 'segfault'], /--plant-bug must be one of/],
    [['--frobnicate'], /unknown option or argument "--frobnicate"/]
  ])('bad flags %j: exit 2 with a message', async (args, msg) => {
    const r = await cli(['sim', '--seed', '1', ...args])
    expect(r.code).toBe(2)
    expect(r.err).toMatch(msg)
    expect(r.out).toBe('')
  })
})
