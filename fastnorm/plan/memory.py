"""Arena offsets for a plan's buffers, given each buffer's lifetime [first, last] in records.

Two buffers whose lifetimes intersect must not share arena memory. `assign_offsets` places the
buffers greedily by size, largest first, each at the lowest offset clear of the already placed
buffers it is alive with (a greedy-by-size layout, as TFLite's planner does): tight arenas on real
networks. Its cost is the number of pairs of buffers alive together, which is small for real
networks (a few per buffer) but quadratic for a hostile file that keeps 50,000 buffers alive at once;
past EXACT_PAIRS pairs the plan takes a time-ordered best-fit free list instead (O(n log n)).
Both loops are linear in the number of records and buffers otherwise (issue 13: planning time is
linear in the size of the file).
"""
from bisect import bisect_left, insort

# Above this many pairs of buffers alive at the same time, the greedy-by-size placement (whose cost is
# that number) gives way to the best-fit free list. Real networks stay far below it (ResNet-50: ~2,000
# pairs; a 24-layer dense block: ~1,500).
EXACT_PAIRS = 400_000


def assign_offsets(bufs, sizes, first, last, nrecords, offsets):
    """Write an offset for each buffer b of bufs into offsets[b] (a list); return the arena size.

    sizes[b]: the room b takes (already rounded to the alignment); first[b] <= last[b]: the first and
    last records that use it."""
    starts = [[] for _ in range(nrecords)]
    for b in bufs:
        starts[first[b]].append(b)
    ends = [[] for _ in range(nrecords)]
    for b in bufs:
        ends[last[b]].append(b)
    if _pairs_alive_together(starts, ends, EXACT_PAIRS) <= EXACT_PAIRS:
        return _greedy_by_size(bufs, sizes, starts, ends, offsets)
    return _best_fit_in_time(sizes, starts, ends, offsets)


def _pairs_alive_together(starts, ends, stop):
    """How many pairs of buffers are alive at the same record (counting stops past `stop`)."""
    alive = pairs = 0
    for t in range(len(starts)):
        for _ in starts[t]:
            pairs += alive
            alive += 1
        if pairs > stop:
            break
        alive -= len(ends[t])
    return pairs


def _greedy_by_size(bufs, sizes, starts, ends, offsets):
    # neighbours: the buffers alive together with each (a buffer starting at record t is alive with
    # every buffer started before and not ended before t, and with those starting at t)
    neighbours = {b: [] for b in bufs}
    alive = set()
    for t in range(len(starts)):
        for b in starts[t]:
            nb = neighbours[b]
            for a in alive:
                nb.append(a)
                neighbours[a].append(b)
            alive.add(b)
        alive.difference_update(ends[t])
    placed = set()
    top = 0
    for b in sorted(bufs, key=lambda b: -sizes[b]):  # stable: equal sizes in buffer order
        size = sizes[b]
        off = 0
        for o, s in sorted((offsets[a], sizes[a]) for a in neighbours[b] if a in placed):
            if off + size <= o:
                break
            off = max(off, o + s)
        offsets[b] = off
        placed.add(b)
        top = max(top, off + size)
    return top


def _best_fit_in_time(sizes, starts, ends, offsets):
    """Records in order: a buffer takes the smallest free block that holds it (or the top of the arena)
    at its first record, and gives its block back after its last record (merged with free neighbours)."""
    by_off, by_size = [], []   # the free blocks below top: sorted (offset, size) and (size, offset)
    top = 0

    def take(i):
        o, s = by_off.pop(i)
        del by_size[bisect_left(by_size, (s, o))]
        return o, s

    for t in range(len(starts)):
        for b in sorted(starts[t], key=lambda b: -sizes[b]):
            size = sizes[b]
            i = bisect_left(by_size, (size, -1))
            if i < len(by_size):
                s, o = by_size[i]
                take(bisect_left(by_off, (o, s)))
                if s > size:
                    insort(by_off, (o + size, s - size))
                    insort(by_size, (s - size, o + size))
            elif by_off and by_off[-1][0] + by_off[-1][1] == top:
                o, _ = take(len(by_off) - 1)   # grow the free block at the top of the arena
                top = o + size
            else:
                o, top = top, top + size
            offsets[b] = o
        for b in ends[t]:
            o, s = offsets[b], sizes[b]
            i = bisect_left(by_off, (o, s))
            if i < len(by_off) and by_off[i][0] == o + s:   # the free block just above
                s += take(i)[1]
            if i > 0 and by_off[i - 1][0] + by_off[i - 1][1] == o:   # the one just below
                o2, s2 = take(i - 1)
                o, s = o2, s + s2
            insort(by_off, (o, s))
            insort(by_size, (s, o))
    return top
