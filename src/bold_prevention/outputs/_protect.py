"""Secondary (complementary) suppression and the recovery audit for additive tables.

A table with margins is a set of linear constraints: each row (and column) of interior cells adds up to its total,
the totals add up to the grand total. An attacker who sees the published cells and totals can bound each suppressed
cell by linear programming over those constraints (with every suppressed cell at least ``lb``: 0, or 1 when true
zeros are published). A suppressed cell is *recoverable* when its minimum equals its maximum.

The constraints of a two-way table with margins form a network: constraint lines are nodes (rows on one side,
columns on the other), suppressed cells are edges. The feasible changes of the suppressed cells are exactly the
circulations on that network (the constraint matrix is a network matrix), so by conformal decomposition a suppressed
cell can change iff it lies on a cycle whose cells can move in the needed direction: cells at their lower bound can
only increase. This module decides that exactly with graph searches (bridges, then directed reachability), which is
much faster than two linear programmes per cell and gives the same answer; the tests check it against
``scipy.optimize.linprog``.

Lines that are not constraints (a one-way table's rows, or every line of a table published without totals) are
replaced by one free node, ``SINK``.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Grid:
    """The full table (interior cells and margins) with its additivity constraints."""

    values: np.ndarray                 # (R, C) true values, margins included
    row_is_line: np.ndarray            # (R,) bool: row i is a constraint (its cells add up)
    col_is_line: np.ndarray            # (C,) bool
    row_sign: np.ndarray               # (R,) +1 for a part, -1 for the total row of its constraints
    col_sign: np.ndarray               # (C,)
    lb: float = 0.0                    # attacker's lower bound for a suppressed cell
    is_margin: np.ndarray = field(default=None)  # (R, C) bool

    def __post_init__(self) -> None:
        if self.is_margin is None:
            self.is_margin = np.zeros(self.values.shape, dtype=bool)

    @property
    def shape(self) -> tuple[int, int]:
        return self.values.shape

    @property
    def sink(self) -> int:
        return self.shape[0] + self.shape[1]

    def endpoints(self, i: int, j: int) -> tuple[int, int]:
        u = i if self.row_is_line[i] else self.sink
        v = self.shape[0] + j if self.col_is_line[j] else self.sink
        return u, v

    def increase_arc(self, i: int, j: int) -> tuple[int, int]:
        """(tail, head): the direction of travel along cell (i, j) when its value increases."""
        u, v = self.endpoints(i, j)
        return (v, u) if self.row_sign[i] * self.col_sign[j] > 0 else (u, v)

    def lines(self) -> list[list[tuple[int, int]]]:
        """The cells of each constraint line."""
        R, C = self.shape
        out = [[(i, j) for j in range(C)] for i in range(R) if self.row_is_line[i]]
        out += [[(i, j) for i in range(R)] for j in range(C) if self.col_is_line[j]]
        return out

    def has_constraints(self) -> bool:
        return bool(self.row_is_line.any() or self.col_is_line.any())


def two_way(values: np.ndarray, *, lb: float = 0.0) -> Grid:
    """A grid for a two-way table whose last row and column are the totals."""
    R, C = values.shape
    rs = np.ones(R)
    rs[-1] = -1
    cs = np.ones(C)
    cs[-1] = -1
    m = np.zeros((R, C), dtype=bool)
    m[-1, :] = True
    m[:, -1] = True
    return Grid(values.astype(float), np.ones(R, bool), np.ones(C, bool), rs, cs, lb, m)


def one_way(values: np.ndarray, *, lb: float = 0.0) -> Grid:
    """A grid for a one-way table (one column) whose last row is the total."""
    R = values.shape[0]
    rs = np.ones(R)
    rs[-1] = -1
    m = np.zeros((R, 1), dtype=bool)
    m[-1, 0] = True
    return Grid(values.reshape(R, 1).astype(float), np.zeros(R, bool), np.ones(1, bool), rs, np.ones(1), lb, m)


def column_sums(values: np.ndarray, *, lb: float = 0.0) -> Grid:
    """A grid for a table whose last row holds the column totals (no total column: its rows do not add up, for
    example because the columns count different things)."""
    R, C = values.shape
    rs = np.ones(R)
    rs[-1] = -1
    m = np.zeros((R, C), dtype=bool)
    m[-1, :] = True
    return Grid(values.astype(float), np.zeros(R, bool), np.ones(C, bool), rs, np.ones(C), lb, m)


def row_sums(values: np.ndarray, *, lb: float = 0.0) -> Grid:
    """A grid for a table whose last column holds the row totals (and no total row)."""
    R, C = values.shape
    cs = np.ones(C)
    cs[-1] = -1
    m = np.zeros((R, C), dtype=bool)
    m[:, -1] = True
    return Grid(values.astype(float), np.ones(R, bool), np.zeros(C, bool), np.ones(R), cs, lb, m)


def unconstrained(values: np.ndarray, *, lb: float = 0.0) -> Grid:
    """A grid for a table published without totals: nothing can be worked out from the other cells."""
    R, C = values.shape
    return Grid(values.astype(float), np.zeros(R, bool), np.zeros(C, bool), np.ones(R), np.ones(C), lb)


# --- graph helpers --------------------------------------------------------------------------------------------------

def _bridges(n_nodes: int, edges: list[tuple[int, int]]) -> set[int]:
    """Indices of the edges that are bridges of the undirected multigraph (self-loops are never bridges)."""
    adj: list[list[tuple[int, int]]] = [[] for _ in range(n_nodes)]
    for k, (a, b) in enumerate(edges):
        if a == b:
            continue
        adj[a].append((b, k))
        adj[b].append((a, k))
    disc = [-1] * n_nodes
    low = [0] * n_nodes
    bridges: set[int] = set()
    t = 0
    for root in range(n_nodes):
        if disc[root] != -1 or not adj[root]:
            continue
        disc[root] = low[root] = t
        t += 1
        stack = [(root, -1, iter(adj[root]))]
        while stack:
            node, via, it = stack[-1]
            advanced = False
            for nxt, k in it:
                if k == via:
                    continue
                if disc[nxt] == -1:
                    disc[nxt] = low[nxt] = t
                    t += 1
                    stack.append((nxt, k, iter(adj[nxt])))
                    advanced = True
                    break
                low[node] = min(low[node], disc[nxt])
            if not advanced:
                stack.pop()
                if stack:
                    parent = stack[-1][0]
                    low[parent] = min(low[parent], low[node])
                    if low[node] > disc[parent]:
                        bridges.add(via)
    return bridges


def _components(n_nodes: int, edges: list[tuple[int, int]]) -> list[int]:
    parent = list(range(n_nodes))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[ra] = rb
    return [find(x) for x in range(n_nodes)]


def _reachable(adj: list[list[tuple[int, int]]], start: int, goal: int, skip_edge: int) -> bool:
    seen = {start}
    q = deque([start])
    while q:
        node = q.popleft()
        if node == goal:
            return True
        for nxt, k in adj[node]:
            if k != skip_edge and nxt not in seen:
                seen.add(nxt)
                q.append(nxt)
    return False


def _scc(n: int, adj: list[list[tuple[int, int]]]) -> list[int]:
    """Strongly connected component id of each node (iterative Tarjan)."""
    index = [-1] * n
    low = [0] * n
    on = [False] * n
    comp = [-1] * n
    stack: list[int] = []
    counter = 0
    ncomp = 0
    for root in range(n):
        if index[root] != -1:
            continue
        work = [(root, iter(adj[root]))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on[root] = True
        while work:
            node, it = work[-1]
            pushed = False
            for nxt, _k in it:
                if index[nxt] == -1:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on[nxt] = True
                    work.append((nxt, iter(adj[nxt])))
                    pushed = True
                    break
                if on[nxt]:
                    low[node] = min(low[node], index[nxt])
            if pushed:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                while True:
                    x = stack.pop()
                    on[x] = False
                    comp[x] = ncomp
                    if x == node:
                        break
                ncomp += 1
    return comp


def recoverable(grid: Grid, suppressed: np.ndarray) -> np.ndarray:
    """Boolean mask: the suppressed cells whose exact value follows from the published cells and constraints.

    A cell is free to move iff it lies on a cycle of suppressed cells along which it can move: every cell at its
    lower bound may only increase. Bridges of the undirected graph are fixed; cells on a cycle of cells that can all
    move both ways are free; a cell at its bound is free iff its increasing arc lies in a strongly connected component
    of the directed graph; the few remaining cells are decided by a search that avoids the cell itself.
    """
    out = np.zeros(grid.shape, dtype=bool)
    cells = [tuple(int(x) for x in c) for c in np.argwhere(suppressed)]
    if not cells:
        return out
    n = grid.sink + 1
    edges = [grid.endpoints(i, j) for i, j in cells]
    at_bound = [grid.values[i, j] <= grid.lb + 1e-9 for i, j in cells]
    bridges = _bridges(n, edges)
    comp = _components(n, [e for e in edges if e[0] != e[1]])
    comp_bound: set[int] = {comp[edges[k][0]] for k in range(len(cells)) if at_bound[k] and edges[k][0] != edges[k][1]}
    pending: list[int] = []
    for k, (i, j) in enumerate(cells):
        a, b = edges[k]
        if a == b:
            continue  # no constraint touches this cell
        if k in bridges:
            out[i, j] = True
        elif comp[a] in comp_bound:
            pending.append(k)  # on a cycle, but cells at their bound may block it
    if not pending:
        return out
    arcs = [grid.increase_arc(*c) for c in cells]
    adj: list[list[tuple[int, int]]] = [[] for _ in range(n)]
    for f in range(len(cells)):
        if edges[f][0] == edges[f][1]:
            continue
        tail, head = arcs[f]
        adj[tail].append((head, f))
        if not at_bound[f]:
            adj[head].append((tail, f))
    scc = _scc(n, adj)
    two_way = _bridges(n, [edges[f] if not at_bound[f] else (0, 0) for f in range(len(cells))])
    for k in pending:
        i, j = cells[k]
        tail, head = arcs[k]
        if at_bound[k]:
            out[i, j] = scc[tail] != scc[head]
        elif k not in two_way:
            continue  # on a cycle of cells that can all move both ways
        else:
            can_move = _reachable(adj, head, tail, k) or _reachable(adj, tail, head, k)
            out[i, j] = not can_move
    return out


def _side(n: int, edges: list[tuple[int, int]], skip: int, start: int) -> set[int]:
    adj: list[list[int]] = [[] for _ in range(n)]
    for k, (a, b) in enumerate(edges):
        if k != skip and a != b:
            adj[a].append(b)
            adj[b].append(a)
    seen = {start}
    q = deque([start])
    while q:
        x = q.popleft()
        for y in adj[x]:
            if y not in seen:
                seen.add(y)
                q.append(y)
    return seen


def _crosses(ends: tuple[int, int], side_a: set[int], side_b: set[int]) -> bool:
    u, v = ends
    return (u in side_a and v in side_b) or (u in side_b and v in side_a)


@dataclass
class Protection:
    suppressed: np.ndarray              # final mask (primary and secondary)
    secondary: np.ndarray               # cells suppressed to protect others
    protects: dict[tuple[int, int], tuple[int, int] | None]  # secondary cell -> the cell it protects (None: a line)
    released: list[tuple[int, int]]     # secondary cells published again: fixed by the totals anyway
    unresolved: list[tuple[int, int]]   # primary cells still recoverable (escalated to suppressing everything)


def protect(grid: Grid, primary: np.ndarray) -> Protection:
    """Add secondary suppressions until no primary cell can be recovered; then publish needless secondaries."""
    supp = primary.copy()
    secondary = np.zeros(grid.shape, dtype=bool)
    protects: dict[tuple[int, int], tuple[int, int] | None] = {}
    unresolved: list[tuple[int, int]] = []
    if not grid.has_constraints() or not supp.any():
        return Protection(supp, secondary, protects, [], unresolved)
    lines = grid.lines()
    R, C = grid.shape

    def key(c: tuple[int, int]) -> tuple:
        return (grid.values[c], bool(grid.is_margin[c]), c[0], c[1])

    def candidates(pool) -> list[tuple[int, int]]:
        # a complement must have room to move down (strictly above the attacker's lower bound)
        return [c for c in pool if not supp[c] and grid.values[c] > grid.lb + 1e-9]

    def add(c: tuple[int, int], for_cell: tuple[int, int] | None) -> None:
        supp[c] = True
        secondary[c] = True
        protects[c] = for_cell

    for _ in range(R * C + 1):
        # 1. a constraint line with exactly one suppressed cell gives it away: suppress its smallest other cell
        changed = True
        while changed:
            changed = False
            for line in lines:
                hidden = [c for c in line if supp[c]]
                if len(hidden) != 1:
                    continue
                cand = candidates(line)
                if cand:
                    add(min(cand, key=key), hidden[0])
                    changed = True
        # 2. exact audit of what remains recoverable
        rec = recoverable(grid, supp)
        bad = [tuple(int(x) for x in c) for c in np.argwhere(rec & primary)]
        if not bad:
            break
        e = bad[0]
        cells = [tuple(int(x) for x in c) for c in np.argwhere(supp)]
        edges = [grid.endpoints(*c) for c in cells]
        k = cells.index(e)
        a, b = edges[k]
        n = grid.sink + 1
        side_a = _side(n, edges, k, a)
        pool: list[tuple[int, int]] = []
        if b not in side_a:  # e is a bridge: join its two sides with another cell
            side_b = _side(n, edges, k, b)
            everything = [(i, j) for i in range(R) for j in range(C)]
            pool = [c for c in everything if _crosses(grid.endpoints(*c), side_a, side_b)]
            if not candidates(pool):
                pool = [c for c in everything if set(grid.endpoints(*c)) & (side_a | side_b)]
        else:  # on cycles that cannot move (cells at their bound): open a new route through its own lines
            pool = [(e[0], j) for j in range(C)] + [(i, e[1]) for i in range(R)]
        cand = candidates(pool) or candidates([(i, j) for i in range(R) for j in range(C)])
        if not cand:
            unresolved.append(e)
            for c in [(i, j) for i in range(R) for j in range(C)]:
                if not supp[c]:
                    add(c, e)
            break
        add(min(cand, key=key), e)

    released: list[tuple[int, int]] = []
    if secondary.any():
        rec = recoverable(grid, supp)
        for c in [tuple(int(x) for x in c) for c in np.argwhere(rec & secondary)]:
            supp[c] = False
            secondary[c] = False
            protects.pop(c, None)
            released.append(c)
    return Protection(supp, secondary, protects, released, unresolved)


# --- optimal secondary suppression ------------------------------------------------------------------------------------

#: Largest (primary cells x cells) for which secondary suppression is chosen by integer programming; larger tables
#: use the graph heuristic of :func:`protect` (its result is audited exactly either way). The size decides, not the
#: clock, so the same table gets the same pattern on any machine: on the reference machine (2 cores) problems at
#: this size solve in under 5 s, and one of 27,000 (a local-authority table of 333 x 9 with 9 small counts) ran to
#: 10 s before a proven answer on some draws and not on others.
OPTIMAL_LIMIT = 10_000


def optimal_protect(grid: Grid, primary: np.ndarray, *, time_limit: float = 120.0) -> Protection | None:
    """The fewest further cells (ties: the smallest total) whose suppression leaves every primary cell free to
    move up and (above its lower bound) down, by integer programming (HiGHS through ``scipy.optimize.milp``).

    Each primary cell needs a circulation through it in each direction over suppressed cells: one flow problem per
    cell and direction over the table's network, every flow capped by the suppression variable of its cell. Returns
    ``None`` when the table is too large (:data:`OPTIMAL_LIMIT`) or the solver finds no proven solution (the caller
    then uses the heuristic). ``time_limit`` is a safety net far above the solve times under the size limit, not
    the rule that decides which tables are solved: a pattern that depended on the machine's speed would not
    repeat."""
    from scipy.optimize import Bounds, LinearConstraint, milp
    from scipy.sparse import coo_matrix

    cells = [(int(i), int(j)) for i, j in np.ndindex(grid.shape)]
    prim = [c for c in cells if primary[c]]
    if not prim or not grid.has_constraints() or len(prim) * len(cells) > OPTIMAL_LIMIT:
        return None
    m = len(cells)
    pos = {c: k for k, c in enumerate(cells)}
    n_nodes = grid.sink + 1
    can_down = np.array([grid.values[c] > grid.lb + 1e-9 for c in cells])
    arcs = [grid.increase_arc(*c) for c in cells]
    # variables: y (m), then for each (primary, direction) block: x_up (m), x_down (m)
    incidence: list[tuple[int, int, float]] = []  # (node, variable offset in a block, +1 out / -1 in)
    for k in range(m):
        t, h = arcs[k]
        if t == h:
            continue
        for off, (a_, b_) in ((0, (t, h)), (m, (h, t))):
            if a_ < n_nodes - 1:
                incidence.append((a_, off + k, 1.0))
            if b_ < n_nodes - 1:
                incidence.append((b_, off + k, -1.0))
    blocks = [(p, d) for p in prim for d in (+1, -1) if d > 0 or can_down[pos[p]]]
    nvar = m + len(blocks) * 2 * m
    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    lo: list[float] = []
    hi: list[float] = []
    r = 0
    ub = np.ones(nvar)
    for b, (p, d) in enumerate(blocks):
        base = m + b * 2 * m
        kp = pos[p]
        tail_p, head_p = arcs[kp]
        if d < 0:
            tail_p, head_p = head_p, tail_p
        ub[base + kp] = 0.0   # p's own arcs carry nothing: the unit through p is the supply below
        ub[base + m + kp] = 0.0
        for k in range(m):
            if not can_down[k]:
                ub[base + m + k] = 0.0
            for off in (0, m):  # x <= y
                rows += [r, r]
                cols += [base + off + k, k]
                vals += [1.0, -1.0]
                lo.append(-np.inf)
                hi.append(0.0)
                r += 1
        # conservation: out - in = supply at every constrained node (the sink is free)
        for node_row, off_k, v in incidence:
            rows.append(r + node_row)
            cols.append(base + off_k)
            vals.append(v)
        for node in range(n_nodes - 1):
            supply = (1.0 if node == head_p else 0.0) - (1.0 if node == tail_p else 0.0)
            lo.append(supply)
            hi.append(supply)
        r += n_nodes - 1
    lb_vec = np.zeros(nvar)
    for c in prim:
        lb_vec[pos[c]] = 1.0
    for k, c in enumerate(cells):  # a complement must be able to move down: never a published true zero
        if not primary[c] and not can_down[k]:
            ub[k] = 0.0
    top = max(float(grid.values.max()), 1.0)
    cost = np.zeros(nvar)
    cost[:m] = [0.0 if primary[c] else 1.0 + 0.5 * grid.values[c] / (top * m) for c in cells]
    a = coo_matrix((vals, (rows, cols)), shape=(r, nvar)).tocsr()
    integrality = np.zeros(nvar)
    integrality[:m] = 1
    res = milp(cost, constraints=LinearConstraint(a, lo, hi), integrality=integrality,
               bounds=Bounds(lb_vec, ub), options={"time_limit": time_limit, "disp": False})
    if res.x is None or res.status not in (0,):
        return None
    supp = np.zeros(grid.shape, dtype=bool)
    for k, c in enumerate(cells):
        supp[c] = res.x[k] > 0.5
    supp |= primary
    if (recoverable(grid, supp) & primary).any():  # the flows said otherwise: trust the exact audit
        return None
    secondary = supp & ~primary
    return Protection(supp, secondary, {tuple(int(x) for x in c): None for c in np.argwhere(secondary)}, [], [])
