// What a fuzz target is and how one is run: an arbitrary of hostile inputs and a check that
// throws FuzzViolation (or lets an unexpected error escape, which is a failure too) when the
// code under test misbehaves. runTarget drives fast-check with a seed and reports the seed,
// the counterexample and the error so a failure can be replayed exactly.
import fc from 'fast-check'

/** the property did not hold: the message says which and with what */
export class FuzzViolation extends Error {
  override name = 'FuzzViolation'
}

/** a check's verdict on the input: throws FuzzViolation with the message */
export const fail = (msg: string): never => { throw new FuzzViolation(msg) }

/** JSON replacer for state fingerprints and messages: bigints and Uint32Arrays made printable */
export function big (_k: string, v: unknown): unknown {
  return typeof v === 'bigint' ? `${v}n` : v instanceof Uint32Array ? Array.from(v) : v
}

export interface FuzzTarget<T = unknown, H = unknown> {
  name: string
  /** decoders are pure and cheap (≥ 10^6 inputs in a full run); handlers drive node parts with state */
  kind: 'decoder' | 'handler'
  /** check returns a promise (handlers always do) */
  async?: boolean
  /** the code under test, as file: function */
  covers: string
  arbitrary: () => fc.Arbitrary<T>
  /** a handler's shared state (temp dirs, stores), made once per run */
  setup?: () => Promise<H>
  teardown?: (h: H) => Promise<void>
  check: (input: T, h: H) => void | Promise<void>
  /**
   * Set while the property is known to fail on this code: what fails and who fixes it.
   * The CI pass leaves such targets out; scripts/fuzz.js runs them and reports, without failing.
   */
  pending?: string
}

export interface RunResult {
  name: string
  runs: number
  ms: number
  seed: number
  failed: boolean
  /** fast-check's replay path of the shrunk counterexample */
  path?: string
  counterexample?: string
  error?: string
}

export interface RunOptions {
  runs: number
  seed: number
  /** shrinking costs time; the full run skips it past this many inputs */
  shrink?: boolean
  /** replay one counterexample (fast-check's path, printed on failure) */
  path?: string
}

export function expectThrownKind (err: unknown, allowed: Array<new (...a: any[]) => Error>, what: string): void {
  if (allowed.some((k) => err instanceof k && err.constructor === k)) return
  const e = err as Error
  const kind = e?.constructor?.name ?? typeof err
  throw new FuzzViolation(`${what} threw ${kind}: ${String(e?.message ?? err)} (allowed: ${allowed.map((k) => k.name).join(', ')})\n${String(e?.stack ?? '').split('\n').slice(1, 6).join('\n')}`)
}

/** compact printing of counterexamples: bytes as hex, bigints with n */
export function show (v: unknown, max = 2000): string {
  const s = JSON.stringify(v, (_k, x) => {
    if (typeof x === 'bigint') return `${x}n`
    if (x instanceof Uint8Array) return `hex:${Buffer.from(x).toString('hex')}`
    if (x instanceof Uint32Array) return `u32[${Array.from(x).join(',')}]`
    return x
  }) ?? String(v)
  return s.length > max ? `${s.slice(0, max)}…(${s.length} chars)` : s
}

export async function runTarget<T, H> (t: FuzzTarget<T, H>, opts: RunOptions): Promise<RunResult> {
  const h = (t.setup != null ? await t.setup() : undefined) as H
  const started = performance.now()
  try {
    const params = { numRuns: opts.runs, seed: opts.seed, endOnFailure: opts.shrink === false, ...(opts.path != null ? { path: opts.path } : {}) }
    const details = t.kind === 'decoder' && t.async !== true
      ? fc.check(fc.property(t.arbitrary(), (input) => { const r = t.check(input, h); if (r instanceof Promise) throw new Error('decoder check must be synchronous') }), params)
      : await fc.check(fc.asyncProperty(t.arbitrary(), async (input) => { await t.check(input, h) }), params)
    const ms = performance.now() - started
    const res: RunResult = { name: t.name, runs: details.numRuns, ms, seed: details.seed, failed: details.failed }
    if (details.failed) {
      res.path = details.counterexamplePath ?? undefined
      res.counterexample = show(details.counterexample)
      const err = details.errorInstance as Error | undefined
      res.error = err == null ? 'unknown' : `${err.name}: ${err.message}${err instanceof FuzzViolation ? '' : `\n${String(err.stack ?? '').split('\n').slice(1, 8).join('\n')}`}`
    }
    return res
  } finally {
    if (t.teardown != null) await t.teardown(h)
  }
}

export function describeFailure (r: RunResult): string {
  return [
    `fuzz target ${r.name} FAILED after ${r.runs} inputs`,
    `  reproduce with: node scripts/fuzz.js --only ${r.name} --seed ${r.seed}${r.path != null ? ` --path ${r.path}` : ''} --runs ${r.runs}`,
    `  input: ${r.counterexample ?? '?'}`,
    `  error: ${r.error ?? '?'}`
  ].join('\n')
}
