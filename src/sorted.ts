// Binary search over ascending arrays of numbers or bigints (typed or plain), shared by the
// id-list code paths so there is one search to get right.
export function sortedIndexOf<T extends number | bigint> (a: ArrayLike<T>, x: T): number {
  let lo = 0
  let hi = a.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    const v = a[mid]
    if (v === x) return mid
    if (v < x) lo = mid + 1
    else hi = mid
  }
  return -(lo + 1)
}
