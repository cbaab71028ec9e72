"""The executor's pass for an optimizer update left running (part of its `fusion` option,
host plans only): the nodes before the update that it does not need and that cannot see its
effects are moved to just after it, so they run while its C work does.

Why: since round 12 the update's C work runs on the pool's helper while the caller goes on
with the nodes after it (backend/native_pool.start, executor `_generate`); the caller then
joins it before the next step's first product. Keras's train step updates the loss tracker
before the optimizer, and `_hoist_reductions` moves the accuracy's argmax up to its inputs,
so on the seed MLP seven small nodes (the loss's sum and mean, the accuracy's argmax and
sum, the loss tracker's two assigns: ~40 us) ran before the update while the helper idled,
and the caller waited ~60 us at the join.

A node moves only where that changes no value:
- it is not an ancestor of the update (the update does not read what it makes);
- it reads no variable the update writes, and no node that stays touches a variable it
  touches where either of the two writes it (so no read or write of a variable changes
  sides);
- it is stateless, or a variable assign (the registry's `inplace_kernel` ops: they touch
  only their inputs and the variable in their params); no other stateful node moves, so
  random draws keep their order, and nothing moves across a Python call (a `MultiOp`,
  `py_function`: what it reads and writes is not in the graph);
- it is not a product (products take both cores: BLAS threads);
- every node that reads what it makes moves too (or already comes after the update).
The moved nodes keep their order among themselves, and all come before the nodes that were
already after the update.

The update declares the variables it writes (`MultiOp.writes`, from
`record_optimizer_update`); without that list no node that reads or assigns a variable
moves. The same list lets the executor guard, after the update, only the nodes that may
share memory with its work (`shared_with_update`): a node the update cannot see needs no
join. A step may have several updates (a GAN's two optimizers): the guards then cover what
any of them touches.
"""
from tenfold.backend import native_pool as _pool


def updates(nodes):
    """The indices of the nodes that may leave their C work running (optimizer updates)."""
    return [i for i, n in enumerate(nodes) if getattr(n.op, "may_leave_running", False)]


def written(nodes, at):
    """The ids naming the variables the nodes at the indices `at` write (`variable_ids`), or
    None where one of them does not say (any variable)."""
    out = set()
    for i in at:
        w = getattr(nodes[i].op, "writes", None)
        if w is None:
            return None
        out |= w
    return frozenset(out)


def writes_variable(writes, var):
    """Whether `writes` (from `written`) names the variable `var`."""
    return writes is None or not writes.isdisjoint(variable_ids(var))


def move_after_update(nodes, kind, values):
    """The node list with the movable nodes before the first node that may leave its work
    running moved to just after it (see the module docstring); the list as it was where no
    node has that fact or nothing can move."""
    at = next(iter(updates(nodes)), None)
    if not at:   # none, or the first node
        return nodes
    writes = written(nodes, [at])
    before = nodes[:at]
    from tenfold.graph.executor import _index   # (the executor imports this module)
    producer, readers = _index(before)
    # the update's ancestors among the nodes before it
    needed = set()
    stack = [producer[v] for v in nodes[at].inputs if v in producer]
    while stack:
        i = stack.pop()
        if i not in needed:
            needed.add(i)
            stack.extend(producer[v] for v in before[i].inputs if v in producer)
    # nothing moves across a Python call (a MultiOp, py_function): what it reads and writes
    # is not in the graph
    first = max((i + 1 for i, n in enumerate(before) if n.stateful and
                 (n.multi or getattr(n.op, "runs_python", False))), default=0)
    moved = {i for i, n in enumerate(before)
             if i >= first and i not in needed and _may_move(n, kind, values, writes)}
    changed = True
    while changed:   # until every moved node's readers move too and no variable conflicts
        keep = {i for i in moved
                if any(r not in moved for o in before[i].outputs for r in readers.get(o, ()))}
        keep |= _variable_conflicts(before, moved, kind, values)
        moved -= keep
        changed = bool(keep)
    if not moved:
        return nodes
    stay = [n for i, n in enumerate(before) if i not in moved]
    go = [n for i, n in enumerate(before) if i in moved]
    return stay + [nodes[at]] + go + nodes[at + 1:]


def _may_move(n, kind, values, writes):
    """Whether node n, by itself, may run after the update (its kind and the variables it
    touches; the order checks are the caller's)."""
    if n.multi or getattr(n.op, "runs_python", False) or getattr(n.op, "uses_blas", False):
        return False   # products keep their place: they take both cores (BLAS threads)
    if n.stateful and getattr(n.op, "inplace_kernel", None) is None:
        return False
    touched = _variables_of(n, kind, values)
    return not touched or (writes is not None and writes.isdisjoint(touched))


def _variables_of(n, kind, values):
    """The ids of the Variables node n reads (its "var" inputs) or names in its params (an
    assign's target), with the ids of their arrays' roots (a wrapper and the variable it
    stands for share one)."""
    got = set()
    for var in [values[v].payload for v in n.inputs if kind[v] == "var"] + \
            [pv for pv in (n.params or {}).values() if hasattr(pv, "_value")]:
        got.update(variable_ids(var))
    return got


def variable_ids(var):
    """The ids that name a variable here: its own and its array's root's."""
    arr = getattr(var, "_value", None)
    return (id(var),) if arr is None else (id(var), id(_pool.root(arr)))


def _variable_conflicts(before, moved, kind, values):
    """The moved nodes that touch a variable some staying node may write (a stateful one
    touching it), or write one (being stateful) that a staying node touches: those keep
    their place, and with them the order of that variable's reads and writes."""
    stay_touched, stay_writes = set(), set()
    for i, n in enumerate(before):
        if i not in moved:
            touched = _variables_of(n, kind, values)
            stay_touched |= touched
            if n.stateful:
                stay_writes |= touched
    out = set()
    for i in moved:
        n = before[i]
        touched = _variables_of(n, kind, values)
        if touched & stay_writes or (n.stateful and touched & stay_touched):
            out.add(i)
    return out


def shared_with_update(nodes, kind, values, inputs, donor):
    """The values that may share memory with what the nodes that may leave their work
    running touch (None where there is no such node): their inputs, the variables they
    write (every variable where one does not say), the program's inputs (an argument may be
    a variable's array), and every value joined to one of those by a view (an op whose
    `aliasing` is not "fresh": its output and inputs) or a reused buffer (a node writing into
    a dead value's, `donor`). The executor guards, after the first update, only the nodes
    reading or writing one of these (the others cannot see the work)."""
    at = updates(nodes)
    if not at:
        return None
    writes = written(nodes, at)
    links = {}

    def link(a, b):
        links.setdefault(a, []).append(b)
        links.setdefault(b, []).append(a)

    for i, n in enumerate(nodes):
        if i in at:
            continue
        if getattr(n.op, "aliasing", None) != "fresh":   # a MultiOp has no such fact
            for o in n.outputs:
                for v in n.inputs:
                    link(o, v)
        d = donor.get(i)
        if d is not None:
            for o in n.outputs:
                link(o, d)
    seeds = set(inputs).union(*(nodes[i].inputs for i in at))
    seeds.update(v for v, k in enumerate(kind)
                 if k == "var" and writes_variable(writes, values[v].payload))
    shared = set()
    stack = list(seeds)
    while stack:
        v = stack.pop()
        if v not in shared:
            shared.add(v)
            stack.extend(links.get(v, ()))
    return shared
