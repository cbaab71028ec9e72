"""Request bodies parsed within a memory budget, with errors that point at the bad value.

The common request `{"instances": <numbers>}` / `{"inputs": <numbers>}` (nested lists of
numbers only) takes a fast path that never builds Python objects per number: the structure is
checked with vectorized NumPy scans of the bytes (allowed characters, nesting depth, every list
of a level the same length), the shape follows from it, and the numbers are parsed straight
into one preallocated float64 array. Peak memory is about 5x the body instead of ~10x or more for
`json.loads` plus `np.asarray`. Anything else (named inputs, b64 strings, extra keys) goes
through `json.loads`, with the nesting depth bounded.

Every value of a numeric tensor must be a JSON number (true/false for bool inputs): strings
such as "1" and null are refused with the JSON path of the first one (`instances[3][1]`),
not converted (np.asarray would turn "1" into 1.0 and null into NaN).
"""
import json
import re

import numpy as np

MAX_DEPTH = 32        # tensors of rank up to 31 inside the request object

_HEAD = re.compile(rb'\A\s*\{\s*"(instances|inputs)"\s*:\s*')
_NUMERIC = np.zeros(256, bool)
for _c in b"0123456789+-.eE,[] \t\r\n":
    _NUMERIC[_c] = True
_STRUCT = np.zeros(256, bool)
for _c in b"[],":
    _STRUCT[_c] = True
_NUMBER = np.zeros(256, bool)
for _c in b"0123456789+-.eE":
    _NUMBER[_c] = True
_TO_SPACE = bytes.maketrans(b"[]\t\r\n", b"     ")


class BadRequest(ValueError):
    """A 400: the message says what is wrong and where."""


# ------------------------------------------------------------------------------ fast path
def _closing_brace(body):
    """Index of the body's final '}' (only whitespace after it), else None."""
    end = len(body)
    while end and body[end - 1] in b" \t\r\n":
        end -= 1
    if not end or body[end - 1] != ord("}"):
        return None
    end -= 1
    while end and body[end - 1] in b" \t\r\n":
        end -= 1
    return end


def fits_fast_path(body):
    """Whether `fast_parse` will take `body` (a cheap check of its form and characters)."""
    head = _HEAD.match(body)
    end = _closing_brace(body)
    if head is None or end is None or end < head.end():
        return False
    region = np.frombuffer(memoryview(body)[head.end():end], np.uint8)
    return bool(region.size and region[0] == ord("[") and _NUMERIC[region].all())


def fast_parse(body):
    """{'instances' or 'inputs': float64 ndarray} when `body` is that key and a nested list of
    numbers only; None when the body has another form (the caller falls back to json)."""
    head = _HEAD.match(body)
    end = _closing_brace(body)
    if head is None or end is None or end < head.end():
        return None
    region = memoryview(body)[head.end():end]
    raw = np.frombuffer(region, np.uint8)
    if raw.size == 0 or raw[0] != ord("[") or not _NUMERIC[raw].all():
        return None          # strings, null, true/false, objects: the general path
    key = head.group(1).decode()
    shape = _shape_of(raw, key)
    count = int(np.prod(shape)) if shape else 1
    text = bytes(region).translate(_TO_SPACE)
    del region, raw
    try:
        values = np.fromstring(text, dtype=np.float64, sep=",") if count else \
            np.zeros(0, np.float64)
    except (ValueError, DeprecationWarning):   # NumPy 2 raises; 1.x warns (maybe as error)
        values = None
    if values is None or values.size != count:
        raise BadRequest(f"JSON Parse error: '{key}' holds a malformed number (e.g. '1.2.3', "
                         "'--1', an empty element between commas) or mixes numbers and lists "
                         "at one level.")
    return {key: values.reshape(shape)}


def _shape_of(raw, key):
    """The shape of the nested lists in `raw` (bytes of `[`, `]`, `,` and numbers), checking
    that they balance, are rectangular, hold numbers only at the innermost level and are not
    nested deeper than MAX_DEPTH. Works on the positions of the structural bytes only (about
    one per number), never on per-byte integer arrays."""
    pos = np.flatnonzero(_STRUCT[raw])             # positions of '[', ']' and ','
    sym = raw[pos]
    is_open, is_close = sym == ord("["), sym == ord("]")
    depth = np.cumsum(is_open.astype(np.int32) - is_close.astype(np.int32))
    if depth.size == 0 or depth.min() < 0 or depth[-1] != 0 or (depth[:-1] == 0).any():
        raise BadRequest(f"JSON Parse error: the brackets of '{key}' do not balance.")
    rank = int(depth.max())
    if rank > MAX_DEPTH:
        raise BadRequest(f"'{key}' is nested {rank} levels deep; at most {MAX_DEPTH} are "
                         "accepted (a tensor of that rank).")
    # has_num[i]: some number lies between structural bytes i-1 and i (at depth[i-1])
    num = _NUMBER[raw]
    starts = np.flatnonzero(num[1:] & ~num[:-1]) + 1
    if num.size and num[0]:
        starts = np.concatenate([[0], starts])
    del num
    before = np.searchsorted(starts, pos)
    has_num = np.zeros(pos.size, bool)
    has_num[1:] = before[1:] > before[:-1]
    del before
    if (depth[:-1][has_num[1:]] != rank).any():
        i = int(np.flatnonzero(has_num[1:] & (depth[:-1] != rank))[0])
        raise BadRequest(f"'{key}' mixes numbers and lists at one level (at "
                         f"{path_at(raw, pos[i] + 1, key)}): a tensor's nested lists must "
                         "hold numbers only at the innermost level.")
    shape = []
    for level in range(1, rank + 1):
        opens = is_open & (depth == level)
        n_lists = int(opens.sum())
        owner = np.cumsum(opens) - 1
        sep = np.bincount(owner[(sym == ord(",")) & (depth == level)], minlength=n_lists)
        # a list is empty when the byte after its '[' is its own ']' with no number between
        nxt = np.flatnonzero(opens) + 1
        empty = is_close[nxt] & (depth[nxt] == level - 1) & ~has_num[nxt]
        sizes = np.where(empty, 0, sep + 1)
        if sizes.min() != sizes.max():
            first = int(np.argmax(sizes != sizes[0]))
            raise BadRequest(f"'{key}': the nested lists must be rectangular (all rows the "
                             f"same length): {path_at(raw, pos[np.flatnonzero(opens)[first]], key)}"
                             f" has {int(sizes[first])} elements, the first list at that "
                             f"level has {int(sizes[0])}.")
        shape.append(int(sizes[0]))
        if sizes[0] == 0:
            break
    return tuple(shape)


def path_at(raw, pos, key):
    """The JSON path (`key[3][1]`) of the element at byte `pos` of `raw`."""
    prefix = raw[:pos]
    depth = np.cumsum((prefix == ord("[")).astype(np.int32) -
                      (prefix == ord("]")).astype(np.int32))
    path = key
    for level in range(1, int(depth[-1]) + 1 if depth.size else 1):
        start = int(np.flatnonzero((prefix == ord("[")) & (depth == level))[-1])
        idx = int(((prefix[start:] == ord(",")) & (depth[start:] == level)).sum())
        path += f"[{idx}]"
    return path


# ------------------------------------------------------------------------------ general path
def json_parse(body):
    """json.loads with a bounded nesting depth (400, never a RecursionError)."""
    try:
        text = body.decode("utf-8") if isinstance(body, (bytes, bytearray)) else body
    except UnicodeDecodeError as e:
        raise BadRequest(f"JSON Parse error: the body is not UTF-8 ({e})") from None
    try:
        obj = json.loads(text)
    except RecursionError:
        raise BadRequest(f"JSON Parse error: the body nests too deeply (at most {MAX_DEPTH} "
                         "levels are accepted).") from None
    except ValueError as e:
        raise BadRequest(f"JSON Parse error: {e}") from None
    stack = [(obj, 1)]
    while stack:
        node, d = stack.pop()
        if d > MAX_DEPTH + 2:
            raise BadRequest(f"The body nests more than {MAX_DEPTH} levels deep.")
        if isinstance(node, dict):
            stack.extend((v, d + 1) for v in node.values() if isinstance(v, (dict, list)))
        elif isinstance(node, list):
            stack.extend((v, d + 1) for v in node if isinstance(v, (dict, list)))
    return obj


def first_non_number(value, path, allow_bool):
    """(path, value) of the first leaf that is not a JSON number (bool allowed for bool
    tensors), depth-first; None when all are numbers."""
    stack = [(value, path)]
    while stack:
        node, where = stack.pop()
        if isinstance(node, list):
            stack.extend((node[i], f"{where}[{i}]") for i in range(len(node) - 1, -1, -1))
        elif isinstance(node, bool):
            if not allow_bool:
                return where, node
        elif not isinstance(node, (int, float)):
            return where, node
    return None
