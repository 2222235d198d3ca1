/**
 * The simulator's one source of randomness: SplitMix64 (Steele, Lea and Flood, 2014), the
 * generator Java's SplittableRandom uses, on BigInt state. Every choice in a run is drawn from
 * one instance seeded with the run's seed, so a seed reproduces a run exactly.
 */
const MASK = (1n << 64n) - 1n

export class Prng {
  private state: bigint

  constructor(seed: number | bigint) {
    this.state = BigInt.asUintN(64, BigInt(seed))
  }

  /** The next 64-bit output. */
  next64(): bigint {
    this.state = (this.state + 0x9e3779b97f4a7c15n) & MASK
    let z = this.state
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK
    return z ^ (z >> 31n)
  }

  /** A float in [0, 1) from the top 53 bits. */
  float(): number {
    return Number(this.next64() >> 11n) / 2 ** 53
  }

  /** An integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.float() * (hi - lo + 1))
  }

  chance(p: number): boolean {
    return this.float() < p
  }

  pick<A>(items: ReadonlyArray<A>): A {
    if (items.length === 0) throw new RangeError("pick from an empty list")
    return items[this.int(0, items.length - 1)] as A
  }

  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n)
    for (let i = 0; i < n; i += 8) {
      let v = this.next64()
      for (let j = i; j < Math.min(n, i + 8); j++) {
        out[j] = Number(v & 0xffn)
        v >>= 8n
      }
    }
    return out
  }

  shuffle<A>(items: ReadonlyArray<A>): Array<A> {
    const out = [...items]
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.int(0, i)
      const t = out[i] as A
      out[i] = out[j] as A
      out[j] = t
    }
    return out
  }
}
