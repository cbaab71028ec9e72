"""The executor's elementwise-chain pass (option ``chains``, part of tenfold.graph's
optimizations): chains of elementwise primitives become one node that runs them into one
buffer, block by block.

A chain is a run of nodes n1 -> n2 -> ... -> nk where each node is elementwise by its
primitive record (`out_kernel` with `inplace=True`: it may write over its own input), each
intermediate result is read by the next node only (and is no graph output), and every
result has the chain's shape and dtype. The nodes' other inputs ("side inputs": biases,
masks, constants, other values) may broadcast. No stateful node may sit between the first
and last node (the chain runs where its last node was, so a variable or a buffer it reads
must not change in between).

The chain node allocates its result once (or receives, from the in-place planning, the
buffer of a dying side input that only its first step reads, or a dead buffer of its shape) and runs every step's `out_kernel` into it: no intermediate array is
made. Results larger than a block are computed in blocks of leading-axis rows that stay in
the core's cache (side inputs with that leading axis are sliced to the block, the others
broadcast whole), so k steps read and write memory once instead of k times. Values are
those of the unfused nodes, bit for bit: the same ufuncs on the same elements. Big chains
share their blocks out to the kernel threads (kernels.run_tasks; ufuncs and native kernels
release the GIL); elementwise, so the values do not depend on it.

An `add` of a vector along the last axis (a bias) followed by a primitive that declares a
`bias_kernel` (LeakyReLU: the pattern after a Conv2D, Conv2DTranspose or Dense with that
activation) is one step of that kernel, one native pass, bit for bit the two steps; a chain
left with one step runs it over whole arrays (the kernel chunks and threads by itself).
"""
import numpy as np

from tenfold.backend import kernels as _kernels
from tenfold.ops.registry import Primitive

BLOCK_ELEMS = 1 << 15   # 128 KiB of float32: a block and its side inputs stay in L2
MIN_STEPS = 2
# blocks go to the kernel threads from this size on (all the chain's arrays): each block is a
# few short NumPy calls, which convoy on the GIL when small (see kernels.BANDWIDTH_MIN_BYTES)
PARALLEL_MIN_BYTES = _kernels.BANDWIDTH_MIN_BYTES


def _elementwise(n):
    op = n.op
    return (not n.multi and not n.stateful and op.out_kernel is not None and op.inplace and
            len(n.outputs) == 1 and getattr(op, "jit_kernel", None) is None)


def fuse_chains(nodes, values, outputs):
    """The node list with maximal elementwise chains replaced by chain nodes (`_PNode`s made
    by `make_node(op, inputs, params, outputs)`)."""
    from tenfold.graph.executor import _PNode
    producer, readers = {}, {}
    for i, n in enumerate(nodes):
        for o in n.outputs:
            producer[o] = i
        for v in n.inputs:
            readers.setdefault(v, []).append(i)
    pinned = set(outputs)
    stateful_at = [i for i, n in enumerate(nodes) if n.stateful]

    def chain_value(i):
        """The result of node i, if it can continue into its single reader (the index)."""
        n = nodes[i]
        o = n.outputs[0]
        rd = readers.get(o, [])
        if o in pinned or len(rd) != 1:
            return None
        j = rd[0]
        nj = nodes[j]
        if not _elementwise(nj) or nj.inputs.count(o) != 1:
            return None
        vo, vj = values[o], values[nj.outputs[0]]
        if vo.shape != vj.shape or vo.dtype != vj.dtype:
            return None
        if any(i < s < j for s in stateful_at):
            return None
        return j

    in_chain = set()
    chains = []
    for i, n in enumerate(nodes):
        if i in in_chain or not _elementwise(n):
            continue
        vo = values[n.outputs[0]]
        if len(vo.shape) == 0 or vo.dtype.kind not in "fc":
            continue
        # start only where no elementwise predecessor would continue into this node
        if any(producer.get(v) is not None and _elementwise(nodes[producer[v]]) and
               producer[v] not in in_chain and chain_value(producer[v]) == i
               for v in n.inputs):
            continue
        chain = [i]
        j = chain_value(i)
        while j is not None and j not in in_chain:  # (a node two chains reach: the first)
            chain.append(j)
            j = chain_value(j)
        if len(chain) >= MIN_STEPS:
            chains.append(chain)
            in_chain.update(chain)
    if not chains:
        return nodes
    replace, drop = {}, set()
    for chain in chains:
        op, ins, outs = _chain_node(nodes, chain, values)
        replace[chain[-1]] = _PNode(op, ins, {}, outs, False, False)
        drop.update(chain[:-1])
    return [replace.get(i, n) for i, n in enumerate(nodes) if i not in drop]


def _chain_node(nodes, chain, values):
    """(the chain's primitive, its input value ids, its outputs)."""
    ext = []          # side inputs, in first-use order
    steps = []        # (primitive, params, args: -1 the running value, k side input k)
    prev = None
    for i in chain:
        n = nodes[i]
        args = []
        for v in n.inputs:
            if v == prev:
                args.append(-1)
            else:
                if v not in ext:
                    ext.append(v)
                args.append(ext.index(v))
        steps.append((n.op, dict(n.params), tuple(args)))
        prev = n.outputs[0]
    last = values[prev]
    shape, dtype = tuple(last.shape), np.dtype(last.dtype)
    steps = _kernel_steps(steps, [tuple(values[v].shape) for v in ext], shape)
    lead = [len(values[v].shape) == len(shape) and len(shape) > 0 and
            values[v].shape[0] == shape[0] and shape[0] > 1 for v in ext]
    kernel, out_kernel = _make_kernel(steps, shape, dtype, lead)
    name = "chain[" + ">".join(nodes[i].op.name for i in chain) + "]"
    # the result may go into the buffer of a side input that only the first step reads
    # (each block of it is read before that block is written)
    later = {a for _, _, args in steps[1:] for a in args}
    first_only = tuple(k for k in steps[0][2] if k >= 0 and k not in later)
    op = Primitive(name, kernel, no_grad="an executor-only chain node (never traced)",
                   aliasing="fresh", out_kernel=out_kernel, inplace=first_only or False)
    return op, tuple(ext), nodes[chain[-1]].outputs


def _kernel_steps(steps, ext_shapes, shape):
    """(out_kernel, params, args) steps from (primitive, params, args) ones, where an `add` of
    a vector along the last axis followed by a primitive with a `bias_kernel` becomes one step
    of that kernel (the pattern after a convolution or Dense with an activation): one pass
    instead of two. chain[add>leaky_relu] with a (128,) bias, float32, main's chain (NumPy
    broadcast add, native leaky_relu per block) -> this, one thread, process time, medians
    of 21 alternating, machine under load ~5 (/work/scratch/ew/ab.py): (64, 28, 28, 128)
    9.4 -> 5.5 ms, (64, 14, 14, 128) 2.25 -> 0.61 ms."""
    out = []
    i = 0
    while i < len(steps):
        op, params, args = steps[i]
        nxt = steps[i + 1] if i + 1 < len(steps) else None
        bias = _bias_args(op, params, args, ext_shapes, shape) if nxt else None
        if bias is not None and getattr(nxt[0], "bias_kernel", None) and nxt[2] == (-1,):
            out.append((nxt[0].bias_kernel, nxt[1], bias))
            i += 2
            continue
        out.append((op.out_kernel, params, args))
        i += 1
    return out


def _bias_args(op, params, args, ext_shapes, shape):
    """(x, b) if this step adds a vector b along the last axis to x of the chain's shape."""
    if op.name != "add" or params or len(args) != 2 or not shape:
        return None
    for x, b in (args, args[::-1]):
        if b >= 0 and ext_shapes[b] == shape[-1:] and (x < 0 or ext_shapes[x] == shape):
            return x, b
    return None


def _make_kernel(steps, shape, dtype, lead):
    size = 1
    for d in shape:
        size *= int(d)
    rows = shape[0] if shape else 1
    per_row = size // max(rows, 1)
    step_rows = max(1, BLOCK_ELEMS // max(per_row, 1))
    blocks = None
    # (one step, a bias kernel: one pass over whole arrays, chunked and threaded by itself)
    if len(steps) > 1 and any(lead) and rows > step_rows and size >= 2 * BLOCK_ELEMS:
        blocks = [slice(r, min(r + step_rows, rows)) for r in range(0, rows, step_rows)]

    def run(arrays, out):
        for k, params, args in steps:
            k(*[out if a < 0 else arrays[a] for a in args], out=out, **params)

    nbytes = size * dtype.itemsize * (1 + sum(lead))

    def out_kernel(*arrays, out):
        if blocks is None:
            run(arrays, out)
            return out

        def work(r, _):
            run([a[r] if is_lead else a for a, is_lead in zip(arrays, lead)], out[r])

        _kernels.run_tasks(blocks, work, nbytes, min_bytes=PARALLEL_MIN_BYTES)
        return out

    def kernel(*arrays):
        return out_kernel(*arrays, out=np.empty(shape, dtype))

    return kernel, out_kernel
