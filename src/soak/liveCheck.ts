// The soak's periodic check, run while the workload goes on. A soak cannot stop the load for a
// consistent cut, so mid-run it judges only what the history proves without one:
//   - revived: a covered oid seen absent from a node and then present again (exact, from the
//     sampler's rounds, as the final check defines it);
//   - overdue: a covered oid still held in a node's latest complete sample more than `lagMs`
//     (default 120 s) after its delete/discard was acknowledged — the lag the check allows for
//     gossip, anti-entropy and a fault's heal;
//   - deletes converged: acknowledged deletes/discards every sampled node was seen without.
// Lost, unpurged, stale and falsely purged need the quiesced final state: the final check
// (`check --history`, after the final heal) judges those. The judge is fed every history
// record as it is written (one HistoryJudge for the whole run: memory grows with the history,
// as the final check's does).
import { isOpEvent, type HistoryEvent } from '../chaos/history.js'
import { HistoryJudge, type HistoryFinding } from '../check/history.js'
import { DEFAULT_CHECK_LAG_MS } from './constants.js'

export interface LiveVerdict {
  /** the history's clock when judged */
  t: number
  revived: number
  overdue: number
  /** acknowledged deletes/discards, and those seen purged on every node */
  deletesAcked: number
  deletesConverged: number
  purgeP50?: number
  purgeP99?: number
  /** a few findings, for the log */
  findings: HistoryFinding[]
  /** the history could not be judged (a checker error): the run fails */
  error?: string
}

export class LiveCheck {
  private readonly judge = new HistoryJudge({ maxFindings: 5 })
  private broken: string | undefined
  /** operations invoked so far */
  ops = 0
  last: LiveVerdict | undefined

  constructor (readonly lagMs = DEFAULT_CHECK_LAG_MS) {}

  add (e: HistoryEvent): void {
    if (isOpEvent(e) && e.type === 'invoke') this.ops++
    if (this.broken !== undefined) return
    try {
      this.judge.add(e)
    } catch (err) {
      this.broken = String((err as Error).message ?? err)
    }
  }

  check (t: number): LiveVerdict {
    if (this.broken !== undefined) return (this.last = { t, revived: 0, overdue: 0, deletesAcked: 0, deletesConverged: 0, findings: [], error: this.broken })
    let r: ReturnType<HistoryJudge['finish']>
    let o: ReturnType<HistoryJudge['overdue']>
    try {
      // no final state: only the sample-based parts of the report mean anything here
      r = this.judge.finish({ nodes: [], vdis: [], reads: [] })
      o = this.judge.overdue(this.lagMs, 5)
    } catch (err) {
      // runs from a timer: a checker bug must fail the run, not crash it
      this.broken = `the history checker failed: ${String((err as Error).message ?? err)}`
      return this.check(t)
    }
    const p = r.purgeLatency
    this.last = {
      t,
      revived: r.counts.revived,
      overdue: o.count,
      deletesAcked: p === null ? 0 : p.count + p.notPurged + p.unobserved,
      deletesConverged: p?.count ?? 0,
      purgeP50: p === null || p.count === 0 ? undefined : p.p50,
      purgeP99: p === null || p.count === 0 ? undefined : p.p99,
      findings: [...r.revived, ...o.findings].slice(0, 5)
    }
    return this.last
  }

  /** revived + overdue of the latest check */
  get violations (): number {
    return this.last === undefined ? 0 : this.last.revived + this.last.overdue + (this.last.error === undefined ? 0 : 1)
  }
}
