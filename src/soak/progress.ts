// What a soak shows while it runs: on a terminal one status line rewritten in place every
// second; otherwise (a log file, CI) a plain line every `plainEveryMs` (default 30 s), so logs
// stay readable. The line: elapsed / total, operations, deletes converged, violations so far
// (periodic check), the node with the largest heap, the machine's load average.
import { formatDuration } from '../cli/duration.js'
import { formatValue } from '../report/svg.js'

export interface ProgressState {
  elapsedMs: number
  totalMs: number
  ops: number
  deletesConverged: number
  deletesAcked: number
  violations: number
  faults: number
  worstHeap?: { node: number, bytes: number }
  /** the machine's 1-minute load average */
  load?: number
}

export function progressLine (s: ProgressState): string {
  const heap = s.worstHeap === undefined ? 'heap ?' : `worst heap node ${s.worstHeap.node} ${formatValue(s.worstHeap.bytes, 'bytes')}`
  return `soak ${formatDuration(s.elapsedMs)} / ${formatDuration(s.totalMs)} · ops ${s.ops} · deletes converged ${s.deletesConverged}/${s.deletesAcked} · faults ${s.faults} · violations ${s.violations} · ${heap}${s.load === undefined ? '' : ` · load ${s.load.toFixed(2)}`}`
}

export interface ProgressOut { isTTY?: boolean, write: (s: string) => unknown }

export class Progress {
  private lastPlain = -Infinity
  private shown = false

  constructor (private readonly out: ProgressOut, private readonly plainEveryMs = 30_000) {}

  /** called about once a second */
  update (s: ProgressState): void {
    if (this.out.isTTY === true) {
      this.out.write(`\r\x1b[K${progressLine(s)}`)
      this.shown = true
    } else if (s.elapsedMs - this.lastPlain >= this.plainEveryMs) {
      this.lastPlain = s.elapsedMs
      this.out.write(progressLine(s) + '\n')
    }
  }

  /** ends the rewritten line so later output starts on a fresh one */
  done (): void {
    if (this.shown) this.out.write('\n')
    this.shown = false
  }

  /** a log line that must not be overwritten by the status line */
  log (line: string): void {
    if (this.shown) this.out.write('\r\x1b[K')
    this.out.write(line + '\n')
  }
}
