// `bellwether sim`: the deterministic simulator (src/sim/) from the command line. Prints the
// parameters the seed derived first, then progress lines, then the summary. Exit 0 when every
// invariant held on every tick, 1 on a violation (with the one command that replays it), 2 on
// bad flags. Flag values are checked here rather than by commander, so a bad value gets the
// simulator's exit code 2 and a message naming the flag.

import { Command, Option } from 'commander'
import { performance } from 'node:perf_hooks'
import { EXIT } from '../output.js'
import { action, printerFor, type Ctx } from './shared.js'
import { PLANTED_BUGS, SCENARIOS, ParamError, deriveParams, parseLatency, parsePartitions, type PlantedBug, type ScenarioName, type SimOverrides } from '../../sim/params.js'
import type { Simulator } from '../../sim/simulator.js'

/** the simulator's exit code for flags it cannot run with */
export const SIM_BAD_FLAGS = 2

interface SimOpts {
  nodes?: string
  seed?: string
  loss?: string
  latency?: string
  partitions?: string
  ticks?: string
  scenario?: string
  plantBug?: string
}

export function simCommand (ctx: Ctx): Command {
  return new Command('sim')
    .description('simulate N nodes in one process in virtual time: one seed derives every parameter (printed first), the invariants are checked every tick, a failure prints the command that replays it')
    .option('--nodes <n>', 'number of nodes (default: from the seed, 5..12)')
    .option('--seed <s>', 'the run\'s 64-bit seed, decimal or 0x-hex (default: a random one, printed)')
    .option('--loss <p>', 'message loss probability in [0, 0.5) (default: from the seed)')
    .option('--latency <dist>', 'one-way delay in ms: exp:MEAN[:MIN], uniform:MIN:MAX or fixed:MS (default: from the seed)')
    .option('--partitions <mode[:count]>', 'none, isolate, minority or halves, and how many episodes (default: from the seed)')
    .option('--ticks <n>', 'length of the run in 100 ms ticks (default: what the scenario needs)')
    .option('--scenario <name>', `a fixed workload and fault scenario instead of the seed's (${SCENARIOS.join(', ')}; figures: the benchmark's short one)`)
    .addOption(new Option('--plant-bug <bug>', `test-only: plant a known bug (${PLANTED_BUGS.join(', ')})`).hideHelp())
    .allowUnknownOption()
    .allowExcessArguments()
    .action(action(ctx, async (o: SimOpts, cmd: Command) => await runSim(ctx, o, cmd.args)))
}

/** The seed and overrides the flags ask for; throws ParamError naming the flag. */
export function parseSimFlags (o: SimOpts): { seed: bigint, overrides: SimOverrides } {
  const overrides: SimOverrides = {}
  const int = (flag: string, v: string, min: number, max: number): number => {
    const n = /^[0-9]+$/.test(v.trim()) ? Number(v) : NaN
    if (!Number.isSafeInteger(n) || n < min || n > max) throw new ParamError(`${flag} must be an integer in ${min}..${max}, got ${JSON.stringify(v)}`)
    return n
  }
  let seed: bigint
  if (o.seed === undefined) seed = BigInt(Math.floor(Math.random() * 2 ** 32)) * 2n ** 32n + BigInt(Math.floor(Math.random() * 2 ** 32))
  else {
    const s = o.seed.trim()
    if (!/^(0x[0-9a-fA-F]{1,16}|[0-9]{1,20})$/.test(s) || BigInt(s) >= 2n ** 64n) throw new ParamError(`--seed must be an integer in 0..2^64-1 (decimal or 0x-hex), got ${JSON.stringify(o.seed)}`)
    seed = BigInt(s)
  }
  if (o.nodes !== undefined) overrides.nodes = int('--nodes', o.nodes, 2, 100_000)
  if (o.ticks !== undefined) overrides.ticks = int('--ticks', o.ticks, 1, 100_000_000)
  if (o.loss !== undefined) {
    const p = /^[0-9]*\.?[0-9]+$/.test(o.loss.trim()) ? Number(o.loss) : NaN
    if (!(p >= 0 && p < 0.5)) throw new ParamError(`--loss must be a probability in [0, 0.5), got ${JSON.stringify(o.loss)}`)
    overrides.loss = p
  }
  if (o.latency !== undefined) overrides.latency = parseLatency(o.latency)
  if (o.partitions !== undefined) {
    const { mode, count } = parsePartitions(o.partitions)
    overrides.partitionMode = mode
    if (count !== undefined) overrides.partitions = count
  }
  if (o.scenario !== undefined) {
    if (!(SCENARIOS as readonly string[]).includes(o.scenario)) throw new ParamError(`--scenario must be one of ${SCENARIOS.join(', ')}, got ${JSON.stringify(o.scenario)}`)
    overrides.scenario = o.scenario as ScenarioName
  }
  if (o.plantBug !== undefined) {
    if (!(PLANTED_BUGS as readonly string[]).includes(o.plantBug)) throw new ParamError(`--plant-bug must be one of ${PLANTED_BUGS.join(', ')}, got ${JSON.stringify(o.plantBug)}`)
    overrides.plantBug = o.plantBug as PlantedBug
  }
  return { seed, overrides }
}

async function runSim (ctx: Ctx, o: SimOpts, extra: string[]): Promise<number> {
  const p = printerFor(ctx, {})
  if (extra.length > 0) {
    p.error(`sim: unknown option or argument ${JSON.stringify(extra[0])} (see bellwether sim --help)`)
    return SIM_BAD_FLAGS
  }
  // the simulator (all of the protocol logic) loads only for a run, not for --help
  const [{ Simulator }, { formatSummary }] = await Promise.all([import('../../sim/simulator.js'), import('../../sim/summary.js')])
  let sim: Simulator
  try {
    const { seed, overrides } = parseSimFlags(o)
    sim = new Simulator(deriveParams(seed, overrides), overrides, { out: (line) => { p.line(line) } })
  } catch (err) {
    if (!(err instanceof ParamError)) throw err
    p.error(`sim: ${err.message}`)
    return SIM_BAD_FLAGS
  }
  const started = performance.now()
  const r = sim.run()
  for (const line of formatSummary(r.summary)) p.line(line)
  p.line(`trace ${r.traceHash}: ${r.events} events in ${((performance.now() - started) / 1000).toFixed(1)} s wall`)
  if (r.violation !== undefined) {
    p.line(`INVARIANT VIOLATED (${r.violation.kind}) at t=${(r.violation.at / 1000).toFixed(3)} s: ${r.violation.message}`)
    p.line(`replay: ${r.replay}`)
    return EXIT.FAILURE
  }
  p.line(`ok: every invariant held on every tick (replay: ${r.replay})`)
  return EXIT.OK
}
