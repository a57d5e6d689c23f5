// Oids this node stored a put for lately (at least the last `windowMs`), in two compact id sets
// that take turns. Recovery asks it: a put placed by the ring before a change may have landed
// here after another target of the new ring already listed this node, and only this node can
// tell that target (recovery/recovery.ts pushes such copies).
import { OidSet } from '../idset.js'

export class RecentPuts {
  private current = new OidSet()
  private previous = new OidSet()
  /** unset until first used: the clock may not exist yet when this is built */
  private turnedAt: number | undefined

  constructor (private readonly windowMs: number, private readonly now: () => number) {}

  add (oid: bigint): void {
    this.turn()
    this.current.add(oid)
  }

  has (oid: bigint): boolean {
    this.turn()
    return this.current.has(oid) || this.previous.has(oid)
  }

  get size (): number { return this.current.size + this.previous.size }

  // each set covers one window: the two together cover at least the last one, at most two
  private turn (): void {
    const t = this.now()
    if (this.turnedAt === undefined) this.turnedAt = t
    if (t - this.turnedAt < this.windowMs) return
    this.previous = t - this.turnedAt < 2 * this.windowMs ? this.current : new OidSet()
    this.current = new OidSet()
    this.turnedAt = t
  }
}
