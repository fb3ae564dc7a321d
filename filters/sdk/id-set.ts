// A set of small non-negative ids (CQL stream ids, and any multiplexed protocol whose requests
// carry an id their reply repeats): one bit per id, allocated once per connection, so adding,
// removing and testing an id allocate nothing and take constant time. A parser uses it to know
// exactly which ids are in flight at the server (to refuse an id reused before its reply, or a
// reply no request asked for) and which of them carry a property it must wait on (for CQL: a
// request whose names resolved against the connection's keyspace). Out-of-range ids are never
// members: has() is false and add() refuses them, so the caller decides what that means.

export class IdSet {
  private readonly words: StaticArray<u32>;
  private members: i32 = 0;

  // Ids 0 .. capacity - 1 (capacity rounded up to a multiple of 32).
  constructor(readonly capacity: i32) {
    this.words = new StaticArray<u32>((capacity + 31) >> 5);
  }

  get count(): i32 {
    return this.members;
  }

  has(id: i32): bool {
    if (<u32>id >= <u32>this.capacity) return false;
    return (this.words[id >> 5] & (1 << (id & 31))) != 0;
  }

  // Adds `id`; false when it is out of range or already a member (the set is unchanged).
  add(id: i32): bool {
    if (<u32>id >= <u32>this.capacity) return false;
    const word = this.words[id >> 5];
    const bit: u32 = 1 << (id & 31);
    if ((word & bit) != 0) return false;
    this.words[id >> 5] = word | bit;
    this.members += 1;
    return true;
  }

  // Removes `id`; false when it was not a member.
  remove(id: i32): bool {
    if (!this.has(id)) return false;
    this.words[id >> 5] &= ~(<u32>1 << (id & 31));
    this.members -= 1;
    return true;
  }
}
