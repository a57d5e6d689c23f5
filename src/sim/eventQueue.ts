// Virtual time for the simulator: a binary min-heap of events ordered by (time, insertion
// number), so events due at the same instant run in the order they were scheduled and a run
// is the same on every machine. An event is a small fixed record (a kind and five integers,
// plus an optional payload reference) held in typed arrays: at 10,000 nodes there are
// hundreds of thousands of events in flight, and one object per event would be most of the heap.
//
// There is no cancel: a timer that may become stale carries a number (a node's incarnation, a
// session id) the handler compares against the current one.

const INITIAL = 1024

export class EventQueue {
  private time = new Float64Array(INITIAL)
  private order = new Float64Array(INITIAL)
  private kinds = new Uint8Array(INITIAL)
  private ints = new Int32Array(INITIAL * 5)
  private objs: unknown[] = new Array(INITIAL).fill(undefined)
  /** heap of slot numbers */
  private heap = new Int32Array(INITIAL)
  private size = 0
  private freeSlots: number[] = []
  private nextSlot = 0
  private inserted = 0

  /** the event popped last: its time, kind, integers and payload */
  now = 0
  kind = 0
  a = 0
  b = 0
  c = 0
  d = 0
  e = 0
  obj: unknown = undefined

  get length (): number { return this.size }

  /** events scheduled so far (the insertion counter) */
  get scheduled (): number { return this.inserted }

  /** Schedules an event at absolute virtual time `at` (ms); never before the current time. */
  push (at: number, kind: number, a = 0, b = 0, c = 0, d = 0, e = 0, obj?: unknown): void {
    if (!(at >= this.now)) at = this.now
    const s = this.slot()
    this.time[s] = at
    this.order[s] = this.inserted++
    this.kinds[s] = kind
    const o = s * 5
    this.ints[o] = a
    this.ints[o + 1] = b
    this.ints[o + 2] = c
    this.ints[o + 3] = d
    this.ints[o + 4] = e
    this.objs[s] = obj
    if (this.size === this.heap.length) {
      const h = new Int32Array(this.heap.length * 2)
      h.set(this.heap)
      this.heap = h
    }
    this.heap[this.size] = s
    this.up(this.size++)
  }

  /** Time of the next event, or Infinity. */
  peekTime (): number {
    return this.size === 0 ? Infinity : this.time[this.heap[0]!]!
  }

  /** Pops the earliest event into now/kind/a..e/obj; false when the queue is empty. */
  pop (): boolean {
    if (this.size === 0) return false
    const s = this.heap[0]!
    this.size--
    if (this.size > 0) {
      this.heap[0] = this.heap[this.size]!
      this.down(0)
    }
    this.now = this.time[s]!
    this.kind = this.kinds[s]!
    const o = s * 5
    this.a = this.ints[o]!
    this.b = this.ints[o + 1]!
    this.c = this.ints[o + 2]!
    this.d = this.ints[o + 3]!
    this.e = this.ints[o + 4]!
    this.obj = this.objs[s]
    this.objs[s] = undefined
    this.freeSlots.push(s)
    return true
  }

  private slot (): number {
    const f = this.freeSlots.pop()
    if (f !== undefined) return f
    if (this.nextSlot === this.time.length) this.grow()
    return this.nextSlot++
  }

  private grow (): void {
    const n = this.time.length * 2
    const t = new Float64Array(n); t.set(this.time); this.time = t
    const q = new Float64Array(n); q.set(this.order); this.order = q
    const k = new Uint8Array(n); k.set(this.kinds); this.kinds = k
    const i = new Int32Array(n * 5); i.set(this.ints); this.ints = i
    for (let j = this.objs.length; j < n; j++) this.objs.push(undefined)
  }

  private less (x: number, y: number): boolean {
    const tx = this.time[x]!
    const ty = this.time[y]!
    return tx < ty || (tx === ty && this.order[x]! < this.order[y]!)
  }

  private up (i: number): void {
    const h = this.heap
    const s = h[i]!
    while (i > 0) {
      const p = (i - 1) >> 1
      if (!this.less(s, h[p]!)) break
      h[i] = h[p]!
      i = p
    }
    h[i] = s
  }

  private down (i: number): void {
    const h = this.heap
    const n = this.size
    const s = h[i]!
    for (;;) {
      const l = 2 * i + 1
      if (l >= n) break
      const r = l + 1
      const m = r < n && this.less(h[r]!, h[l]!) ? r : l
      if (!this.less(h[m]!, s)) break
      h[i] = h[m]!
      i = m
    }
    h[i] = s
  }
}
