// Least-squares fit of a figure against log2 N, for the simulator's convergence table: a
// delete crosses the overlay in O(log N) hops, so rounds and time to purge should grow by a
// constant per doubling of N. Pure: the benchmark prints what this returns under its table.

export interface LogFit {
  /** growth per doubling of N */
  slope: number
  /** the fitted value at N = 1 */
  intercept: number
  /** coefficient of determination; NaN when y does not vary (nothing to explain) */
  r2: number
  points: number
}

/** y ≈ slope · log2(N) + intercept over the (N, y) points; NaN ys are left out. Throws on fewer than two distinct N. */
export function fitLogN (points: ReadonlyArray<readonly [number, number]>): LogFit {
  const pts = points.filter(([n, y]) => Number.isFinite(y) && n > 0).map(([n, y]) => [Math.log2(n), y] as const)
  if (new Set(pts.map(([x]) => x)).size < 2) throw new RangeError(`a fit against log N needs points at two sizes at least, got ${pts.length} point(s)`)
  const k = pts.length
  const mx = pts.reduce((s, [x]) => s + x, 0) / k
  const my = pts.reduce((s, [, y]) => s + y, 0) / k
  let sxy = 0
  let sxx = 0
  let syy = 0
  for (const [x, y] of pts) {
    sxy += (x - mx) * (y - my)
    sxx += (x - mx) ** 2
    syy += (y - my) ** 2
  }
  const slope = sxy / sxx
  const intercept = my - slope * mx
  let ssr = 0
  for (const [x, y] of pts) ssr += (y - (slope * x + intercept)) ** 2
  return { slope, intercept, r2: syy === 0 ? NaN : 1 - ssr / syy, points: k }
}
