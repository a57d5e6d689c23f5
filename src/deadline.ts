// Waiting on a promise for at most a while. A wait that must end (a stream's flush, a session
// a scheduler slot depends on) races the promise against a timer; the timer is unref'd, since a
// deadline alone is no reason to keep a stopping process alive.

/** what `within` resolves to when the time ran out first */
export const LATE: unique symbol = Symbol('late')

/** what `p` resolves to, or LATE once `ms` have passed without it settling (a rejection propagates) */
export async function within<T> (p: Promise<T>, ms: number): Promise<T | typeof LATE> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const late = new Promise<typeof LATE>((resolve) => {
    timer = setTimeout(() => { resolve(LATE) }, ms)
    timer.unref?.()
  })
  try {
    return await Promise.race([p, late])
  } finally {
    clearTimeout(timer)
  }
}

/** true if `p` settles (either way) within `ms` */
export async function settlesWithin (p: Promise<unknown>, ms: number): Promise<boolean> {
  return await within(p.then(() => true, () => true), ms) !== LATE
}
