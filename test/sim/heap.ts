/** A binary min-heap of events ordered by (time, insertion number): ties break deterministically. */
export interface Timed {
  readonly atMs: number
  readonly order: number
}

export class EventHeap<E extends Timed> {
  private readonly items: Array<E> = []

  get size(): number {
    return this.items.length
  }

  push(e: E): void {
    const a = this.items
    a.push(e)
    let i = a.length - 1
    while (i > 0) {
      const p = (i - 1) >> 1
      if (!before(a[i] as E, a[p] as E)) break
      ;[a[i], a[p]] = [a[p] as E, a[i] as E]
      i = p
    }
  }

  pop(): E | undefined {
    const a = this.items
    const top = a[0]
    const last = a.pop()
    if (a.length > 0 && last !== undefined) {
      a[0] = last
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        const r = l + 1
        let m = i
        if (l < a.length && before(a[l] as E, a[m] as E)) m = l
        if (r < a.length && before(a[r] as E, a[m] as E)) m = r
        if (m === i) break
        ;[a[i], a[m]] = [a[m] as E, a[i] as E]
        i = m
      }
    }
    return top
  }
}

const before = (x: Timed, y: Timed): boolean => x.atMs < y.atMs || (x.atMs === y.atMs && x.order < y.order)
