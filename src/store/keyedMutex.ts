// Per-key mutual exclusion: tasks with the same key run one after another, in call
// order; tasks with different keys run concurrently. Only keys with queued or running
// tasks are held, so the map stays as small as the set of in-flight keys.

export class KeyedMutex<K> {
  private readonly tails = new Map<K, Promise<void>>()

  /** Runs `fn` once every earlier task for `key` has settled; resolves or rejects as `fn` does. */
  async run<T>(key: K, fn: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key)
    const result = prev === undefined ? fn() : prev.then(fn)
    // The tail never rejects, so a failed task does not poison the ones queued behind it.
    const tail = result.then(noop, noop)
    this.tails.set(key, tail)
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key)
    })
    return await result
  }

  /** Number of keys with a queued or running task. */
  get size (): number {
    return this.tails.size
  }
}

function noop (): void {}
