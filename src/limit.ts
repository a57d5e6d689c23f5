// Bounded concurrency over a list: `limit` workers take the next item until none is left.
// One helper for the places that keep a few I/O calls in flight (recovery's peers and
// transfers, header reads of an object list) instead of a loop each.

/** `fn` over every item, at most `limit` at once; an aborted `signal` stops handing out items (the call then rejects) */
export async function forEachLimit<T> (items: readonly T[], limit: number, signal: AbortSignal | undefined, fn: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      signal?.throwIfAborted()
      const i = next++
      await fn(items[i]!, i)
    }
  }
  await Promise.all(Array.from({ length: Math.min(Math.max(1, limit), items.length) }, worker))
}
