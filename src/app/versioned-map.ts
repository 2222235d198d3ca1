/**
 * A persistent map whose versions share one mutable Map (the "rerooting" technique for
 * persistent data structures). Every version reads as an immutable map, yet the common use,
 * where each new version is derived from the newest one, costs what a plain Map costs.
 *
 * How it works. All versions of one family share a single JavaScript Map holding the contents
 * of one version, the root. Every other version holds a diff: the keys where its contents differ
 * from a neighbouring version, with its own values there, and a pointer to that neighbour. The
 * pointers lead to the root. Reading a version that is not the root first reroots: it walks to
 * the root and applies the diffs on the way back, turning each into the inverse diff, until the
 * version read is the root. Deriving a new version from the root (`edit` ... `commit`) mutates the
 * Map in place and leaves the old version behind as a diff pointing at the new one.
 *
 * Costs: deriving from the newest version and reading the newest version cost the same as a
 * plain Map; reading an older version costs the number of changes between it and the root.
 * Old versions keep later ones alive (diffs point forwards), never the other way round, so a
 * caller that only keeps the newest version keeps only one Map.
 *
 * One rule: while an editor is open (between `edit()` and `commit()` / `abort()`), no other
 * version of the same family may be read; doing so is a programmer error and throws.
 */

/** Marks "no entry for this key" inside a diff. */
const ABSENT: unique symbol = Symbol("VersionedMap.absent")
type Slot<V> = V | typeof ABSENT

/** What the versions of one family share. */
class Family<K, V> {
  editing = false
  constructor(public map: Map<K, V>) {}
}

/** An immutable map version. Values must not be `undefined`. */
export class VersionedMap<K, V> {
  /** When this version is not the root: the keys where it differs from `next`, and its values there. */
  private diffKeys: Array<K> | undefined = undefined
  private diffValues: Array<Slot<V>> | undefined = undefined
  private next: VersionedMap<K, V> | undefined = undefined

  private constructor(
    private readonly family: Family<K, V>,
    /** Number of entries in this version. */
    readonly size: number
  ) {}

  /** A new family holding no entries. */
  static empty<K, V>(): VersionedMap<K, V> {
    return new VersionedMap<K, V>(new Family(new Map()), 0)
  }

  /** A new family whose first version holds the entries of `map`; the map is taken over, not copied. */
  static adopt<K, V>(map: Map<K, V>): VersionedMap<K, V> {
    return new VersionedMap<K, V>(new Family(map), map.size)
  }

  /** Makes this version the root and returns the shared Map, which then holds its contents. */
  private reroot(): Map<K, V> {
    const family = this.family
    if (family.editing) throw new Error("VersionedMap: a version was read while an editor of its family is open")
    if (this.next === undefined) return family.map
    const path: Array<VersionedMap<K, V>> = [this]
    let at: VersionedMap<K, V> = this.next
    while (at.next !== undefined) {
      path.push(at)
      at = at.next
    }
    const map = family.map
    // path[i].next is path[i + 1] (or the root for the last one): walk back from the root.
    for (let i = path.length - 1; i >= 0; i--) {
      const version = path[i] as VersionedMap<K, V>
      const root = version.next as VersionedMap<K, V>
      const keys = version.diffKeys as Array<K>
      const values = version.diffValues as Array<Slot<V>>
      const inverse = new Array<Slot<V>>(keys.length)
      for (let j = 0; j < keys.length; j++) {
        const key = keys[j] as K
        const current = map.get(key)
        inverse[j] = current === undefined ? ABSENT : current
        const value = values[j] as Slot<V>
        if (value === ABSENT) map.delete(key)
        else map.set(key, value)
      }
      root.diffKeys = keys
      root.diffValues = inverse
      root.next = version
      version.diffKeys = undefined
      version.diffValues = undefined
      version.next = undefined
    }
    return map
  }

  get(key: K): V | undefined {
    return this.reroot().get(key)
  }

  has(key: K): boolean {
    return this.reroot().has(key)
  }

  /** The keys, in no particular order, as a fresh array. */
  keys(): Array<K> {
    return [...this.reroot().keys()]
  }

  /**
   * Calls `f` on every entry, in no particular order. `f` may not read any version of this
   * family (that could move the shared Map under the iteration); doing so throws.
   */
  forEach(f: (value: V, key: K) => void): void {
    const map = this.reroot()
    this.family.editing = true
    try {
      map.forEach(f)
    } finally {
      this.family.editing = false
    }
  }

  /** Opens an editor deriving a new version from this one. */
  edit(): MapEditor<K, V> {
    const map = this.reroot()
    this.family.editing = true
    return new MapEditor<K, V>(
      map,
      this.size,
      (undo, size) => this.attach(undo, size),
      () => {
        this.family.editing = false
      }
    )
  }

  /** On commit: turns this version into a diff pointing at the new root version. */
  private attach(undo: Map<K, Slot<V>>, size: number): VersionedMap<K, V> {
    this.family.editing = false
    if (undo.size === 0) return this
    const next = new VersionedMap<K, V>(this.family, size)
    this.diffKeys = [...undo.keys()]
    this.diffValues = [...undo.values()]
    this.next = next
    return next
  }
}

/**
 * Mutable access to a new version under construction. Reads see the writes made so far.
 * `commit` returns the new version (the base itself when nothing changed); `abort` restores the
 * base. Exactly one of them must be called.
 */
export class MapEditor<K, V> {
  /** For every key written: its value in the base version. */
  private readonly undo = new Map<K, Slot<V>>()
  private closed = false

  constructor(
    private readonly map: Map<K, V>,
    private currentSize: number,
    private readonly onCommit: (undo: Map<K, Slot<V>>, size: number) => VersionedMap<K, V>,
    private readonly onAbort: () => void
  ) {}

  get size(): number {
    return this.currentSize
  }

  private open(): void {
    if (this.closed) throw new Error("MapEditor: used after commit or abort")
  }

  private remember(key: K): V | undefined {
    const current = this.map.get(key)
    if (!this.undo.has(key)) this.undo.set(key, current === undefined ? ABSENT : current)
    return current
  }

  get(key: K): V | undefined {
    this.open()
    return this.map.get(key)
  }

  has(key: K): boolean {
    this.open()
    return this.map.has(key)
  }

  set(key: K, value: V): void {
    this.open()
    if (value === undefined) throw new Error("VersionedMap: values may not be undefined")
    if (this.remember(key) === undefined) this.currentSize++
    this.map.set(key, value)
  }

  /** Removes the key; true when it was present. */
  delete(key: K): boolean {
    this.open()
    if (!this.map.has(key)) return false
    this.remember(key)
    this.map.delete(key)
    this.currentSize--
    return true
  }

  commit(): VersionedMap<K, V> {
    this.open()
    this.closed = true
    return this.onCommit(this.undo, this.currentSize)
  }

  abort(): void {
    if (this.closed) return
    this.closed = true
    for (const [key, value] of this.undo) {
      if (value === ABSENT) this.map.delete(key)
      else this.map.set(key, value)
    }
    this.onAbort()
  }
}
