"""Nested structures (lists, tuples, namedtuples, dicts) as `tf.nest` treats them."""
import collections.abc


def _is_namedtuple(x):
    return isinstance(x, tuple) and hasattr(x, "_fields")


def is_nested(x):
    return isinstance(x, (list, tuple, dict, collections.abc.Mapping))


def _children(x):
    if isinstance(x, collections.abc.Mapping):
        return [x[k] for k in sorted(x, key=_sort_key)]
    return list(x)


def _sort_key(k):
    return (str(type(k)), k) if not isinstance(k, str) else ("", k)


def flatten(structure, expand_composites=False):
    """Leaves in a deterministic order (dict keys sorted), without recursion limits."""
    if not is_nested(structure):
        return [structure]
    out, stack = [], [structure]
    while stack:
        x = stack.pop()
        if is_nested(x):
            stack.extend(reversed(_children(x)))
        else:
            out.append(x)
    return out


def _rebuild(template, children):
    if isinstance(template, collections.abc.Mapping):
        keys = sorted(template, key=_sort_key)
        d = dict(zip(keys, children))
        try:
            return type(template)((k, d[k]) for k in template)
        except TypeError:
            return {k: d[k] for k in template}
    if _is_namedtuple(template):
        return type(template)(*children)
    if isinstance(template, tuple):
        return tuple(children)
    return list(children)


def pack_sequence_as(structure, flat_sequence):
    flat = list(flat_sequence)
    it = iter(flat)

    def build(s):
        if not is_nested(s):
            return next(it)
        return _rebuild(s, [build(c) for c in _children(s)])

    n = len(flatten(structure))
    if n != len(flat):
        raise ValueError(f"The structure has {n} leaves but the flat sequence has {len(flat)}.")
    return build(structure)


def map_structure(func, *structures):
    if not structures:
        raise ValueError("map_structure needs at least one structure")
    first = structures[0]
    flats = [flatten(s) for s in structures]
    for s, f in zip(structures[1:], flats[1:]):
        assert_same_structure(first, s)
    return pack_sequence_as(first, [func(*xs) for xs in zip(*flats)])


def assert_same_structure(a, b, check_types=False):
    if is_nested(a) != is_nested(b):
        raise ValueError(f"The two structures don't have the same nested structure: {a!r} vs {b!r}")
    if is_nested(a):
        ca, cb = _children(a), _children(b)
        if len(ca) != len(cb):
            raise ValueError(f"The two structures don't have the same number of elements: "
                             f"{len(ca)} vs {len(cb)}")
        if isinstance(a, collections.abc.Mapping) and set(a) != set(b):
            raise ValueError(f"The two dicts don't have the same keys: {sorted(a)} vs {sorted(b)}")
        for x, y in zip(ca, cb):
            assert_same_structure(x, y)
