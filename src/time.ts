// Time as a dependency. Every part that reads the clock or waits (membership, delete gossip,
// anti-entropy scheduling, recovery and its throttle, deadlines, the delete log's retry) takes
// a `Timers` (or, if it only reads the time, a `Clock`) instead of calling Date.now/setTimeout,
// so the same code runs on the system clock in a node and in virtual time in unit tests and
// the simulator. `systemTime` is the real one; `VirtualTime` is a deterministic timer queue
// that moves only when it is told to, firing timers in (due time, creation order).

/** reads the time: milliseconds since the epoch (the system's wall clock, or virtual ms) */
export interface Clock {
  now (): number
}

declare const timerBrand: unique symbol
/** an opaque timer handle: only good for passing back to the Timers that made it */
export interface TimerHandle { readonly [timerBrand]: true }

export interface TimerOptions {
  /** the timer alone does not keep the process alive (system timers; virtual ones ignore it) */
  unref?: boolean
}

/** reads the time and schedules on it */
export interface Timers extends Clock {
  /** runs `fn` once, `ms` from now (at least 1 ms, as Node's timers) */
  setTimeout (fn: () => void, ms: number, opts?: TimerOptions): TimerHandle
  /** runs `fn` every `ms` (at least 1 ms), the first time `ms` from now */
  setInterval (fn: () => void, ms: number, opts?: TimerOptions): TimerHandle
  /** cancels a timeout or an interval; undefined and already-fired handles are ignored */
  clearTimeout (h: TimerHandle | undefined): void
  clearInterval (h: TimerHandle | undefined): void
  /** resolves after `ms`; rejects with the signal's reason once it aborts (the timer is cleared) */
  sleep (ms: number, signal?: AbortSignal): Promise<void>
}

/** the Timers' own sleep, for any implementation: one timeout, cleared on abort */
export async function sleepOn (t: Timers, ms: number, signal?: AbortSignal): Promise<void> {
  signal?.throwIfAborted()
  await new Promise<void>((resolve, reject) => {
    const onAbort = (): void => { t.clearTimeout(h); reject(signal!.reason) }
    const h = t.setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve() }, ms)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

// Node clamps a delay outside [1, 2^31 - 1] to 1; the virtual queue does the same so code
// behaves alike on both (an interval of 0 would otherwise never let virtual time move)
const MAX_DELAY = 2 ** 31 - 1
function delayOf (ms: number): number {
  return ms >= 1 && ms <= MAX_DELAY ? ms : 1
}

type NodeTimer = ReturnType<typeof setTimeout>

/** the system clock (Date.now) and Node's timers */
export const systemTime: Timers = {
  now: () => Date.now(),
  setTimeout (fn, ms, opts) {
    const t = setTimeout(fn, ms)
    if (opts?.unref === true) t.unref?.()
    return t as unknown as TimerHandle
  },
  setInterval (fn, ms, opts) {
    const t = setInterval(fn, ms)
    if (opts?.unref === true) t.unref?.()
    return t as unknown as TimerHandle
  },
  clearTimeout (h) { if (h !== undefined) clearTimeout(h as unknown as NodeTimer) },
  clearInterval (h) { if (h !== undefined) clearInterval(h as unknown as NodeTimer) },
  async sleep (ms, signal) { await sleepOn(systemTime, ms, signal) }
}

/** `clock` moved by `offsetMs()`, read on every call (clock-skew chaos on a running node) */
export function skewed (clock: Clock, offsetMs: () => number): Clock {
  return { now: () => clock.now() + offsetMs() }
}

interface Entry {
  id: number
  due: number
  /** creation order: breaks ties between timers due at the same instant */
  seq: number
  fn: () => void
  period: number | undefined
}

/**
 * Virtual time: `now()` stands still until `advance`/`runUntil`/`step` move it, and timers
 * fire in order of due time, ties in the order they were set (an interval re-armed when it
 * fires counts as set then). Deterministic: the same calls give the same firings. The sync
 * methods fire callbacks back to back (for sans-I/O code); the async ones let promise
 * continuations run after each firing (for code that awaits a sleep or a deadline).
 */
export class VirtualTime implements Timers {
  private t: number
  private readonly heap: Entry[] = []
  private readonly live = new Map<number, Entry>()
  private nextId = 1
  private nextSeq = 0
  /** timers fired so far */
  fired = 0

  constructor (start = 0) {
    if (!Number.isFinite(start)) throw new RangeError(`virtual time must start at a finite ms: ${start}`)
    this.t = start
  }

  now (): number { return this.t }

  /** timers waiting to fire */
  get pending (): number { return this.live.size }

  /** when the next timer is due, undefined when none is */
  nextDue (): number | undefined {
    this.dropCancelled()
    return this.heap[0]?.due
  }

  setTimeout (fn: () => void, ms: number): TimerHandle {
    return this.arm(fn, delayOf(ms), undefined)
  }

  setInterval (fn: () => void, ms: number): TimerHandle {
    const d = delayOf(ms)
    return this.arm(fn, d, d)
  }

  clearTimeout (h: TimerHandle | undefined): void {
    if (h === undefined || !this.live.delete(h as unknown as number)) return
    // deadlines are mostly cleared long before they are due: rebuild rather than let them pile up
    if (this.heap.length > 1024 && this.heap.length > 2 * this.live.size) this.rebuild()
  }

  clearInterval (h: TimerHandle | undefined): void { this.clearTimeout(h) }

  async sleep (ms: number, signal?: AbortSignal): Promise<void> { await sleepOn(this, ms, signal) }

  /** fires the next timer (time jumps to its due time); false when none is waiting */
  step (): boolean {
    this.dropCancelled()
    const e = this.pop()
    if (e === undefined) return false
    // read before re-arming moves it
    this.t = e.due
    if (e.period !== undefined) {
      // re-armed before it runs, so the callback may clear it
      e.due += e.period
      e.seq = this.nextSeq++
      this.push(e)
    } else {
      this.live.delete(e.id)
    }
    this.fired++
    e.fn()
    return true
  }

  /** fires, in order, every timer due up to `until` (including ones they set), then sets the time to `until` */
  runUntil (until: number): number {
    if (!(until >= this.t)) throw new RangeError(`virtual time cannot go back from ${this.t} to ${until}`)
    let n = 0
    for (let due = this.nextDue(); due !== undefined && due <= until; due = this.nextDue()) {
      this.step()
      n++
    }
    this.t = until
    return n
  }

  /** runUntil(now + ms); returns how many timers fired */
  advance (ms: number): number {
    if (!(ms >= 0)) throw new RangeError(`cannot advance virtual time by ${ms} ms`)
    return this.runUntil(this.t + ms)
  }

  /** as runUntil, letting pending promise continuations run before and after each firing */
  async runUntilAsync (until: number): Promise<number> {
    if (!(until >= this.t)) throw new RangeError(`virtual time cannot go back from ${this.t} to ${until}`)
    let n = 0
    await drainMicrotasks()
    for (let due = this.nextDue(); due !== undefined && due <= until; due = this.nextDue()) {
      this.step()
      n++
      await drainMicrotasks()
    }
    this.t = until
    await drainMicrotasks()
    return n
  }

  async advanceAsync (ms: number): Promise<number> {
    if (!(ms >= 0)) throw new RangeError(`cannot advance virtual time by ${ms} ms`)
    return await this.runUntilAsync(this.t + ms)
  }

  /**
   * Moves time from timer to timer until `p` settles, and returns (or throws) what it
   * settled with. Throws if no timer is left while `p` is still pending (it waits on
   * something other than time), or if it would take longer than `maxMs` of virtual time.
   */
  async drive<T> (p: Promise<T>, maxMs = Number.POSITIVE_INFINITY): Promise<T> {
    let settled = false
    p.then(() => { settled = true }, () => { settled = true })
    const limit = this.t + maxMs
    await drainMicrotasks()
    while (!settled) {
      const due = this.nextDue()
      if (due === undefined) throw new Error(`still pending at virtual ${this.t} ms with no timer left to fire`)
      if (due > limit) throw new Error(`still pending after ${maxMs} virtual ms`)
      this.step()
      await drainMicrotasks()
    }
    return await p
  }

  private arm (fn: () => void, delay: number, period: number | undefined): TimerHandle {
    const e: Entry = { id: this.nextId++, due: this.t + delay, seq: this.nextSeq++, fn, period }
    this.live.set(e.id, e)
    this.push(e)
    return e.id as unknown as TimerHandle
  }

  // cleared timers stay in the heap until they reach its top (lazy deletion)
  private dropCancelled (): void {
    while (this.heap.length > 0 && !this.live.has(this.heap[0].id)) this.pop()
  }

  /** the heap from the live timers alone (a sorted array is a heap) */
  private rebuild (): void {
    const live = [...this.live.values()].sort((a, b) => before(a, b) ? -1 : 1)
    this.heap.length = 0
    for (const e of live) this.heap.push(e) // not push(...live): a spread of 10^5 arguments overflows the stack
  }

  private push (e: Entry): void {
    const h = this.heap
    h.push(e)
    let i = h.length - 1
    while (i > 0) {
      const up = (i - 1) >> 1
      if (!before(h[i], h[up])) break
      ;[h[i], h[up]] = [h[up], h[i]]
      i = up
    }
  }

  private pop (): Entry | undefined {
    const h = this.heap
    const top = h[0]
    const last = h.pop()
    if (top === undefined || last === undefined || h.length === 0) return top
    h[0] = last
    let i = 0
    for (;;) {
      const l = 2 * i + 1
      const r = l + 1
      let m = i
      if (l < h.length && before(h[l], h[m])) m = l
      if (r < h.length && before(h[r], h[m])) m = r
      if (m === i) break
      ;[h[i], h[m]] = [h[m], h[i]]
      i = m
    }
    return top
  }
}

function before (a: Entry, b: Entry): boolean {
  return a.due < b.due || (a.due === b.due && a.seq < b.seq)
}

/** lets every promise continuation already queued (and the ones they queue) run */
async function drainMicrotasks (): Promise<void> {
  await new Promise<void>((resolve) => { setImmediate(resolve) })
}
