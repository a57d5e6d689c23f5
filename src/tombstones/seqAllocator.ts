// Hands out this node's delete sequence numbers. A seq is taken synchronously, before the
// caller's first await, and never handed out again: two records of one origin with one seq
// are one record to every log (deduplicated by (origin, seq)), so a reused seq is a delete
// acknowledged to its client that no node ever applies. Never below the log's next seq or
// past the floor's folded seqs, so a restart (counter back to 0) or records of ours learned
// back from peers cannot make it go back either.

export class SeqAllocator {
  private next = 1n

  /** `lowest()`: the smallest seq that may be new (1 + the highest seq held or folded) */
  constructor (private readonly lowest: () => bigint) {}

  /** a seq no earlier take() returned and no held or folded record carries */
  take (): bigint {
    const low = this.lowest()
    if (this.next < low) this.next = low
    return this.next++
  }
}
