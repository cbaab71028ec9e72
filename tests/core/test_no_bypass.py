"""Issue 12's "No bypass" rule (docs/internals.md): code above the core never reads a tensor's
backend array (`Tensor._value`). It computes with tenfold ops and reaches data only through
`tenfold.framework.host` (edges), `tenfold.ops.buffers` (stateful kernels, communication
buffers) and `tenfold.util.tensor_meta` (static facts)."""
import pathlib
import tokenize

import tenfold as tf

ROOT = pathlib.Path(tf.__file__).parent

# Every package above the core (framework, ops, autodiff, graph, backend, jit, util).
ABOVE_CORE = ("keras", "data", "export", "serving", "train", "summary", "lite", "cli",
              "distribute", "api", "experimental")

# (path relative to tenfold/, line text stripped) pairs that may keep such an attribute, each
# with the reason. Empty: attributes of non-tensor objects that merely shared the name were
# renamed instead (futures' `_result`, Optional's `_element`).
ALLOWED = {}


def _code_lines(path):
    """(line number, text) of the lines of `path` that access an attribute named exactly
    `_value` (not `_value_dense`, `_values`) in code: comments
    and strings are dropped, so a docstring that mentions `Tensor._value` is fine."""
    with tokenize.open(path) as f:
        tokens = list(tokenize.generate_tokens(f.readline))
    hits = {}
    for prev, tok in zip(tokens, tokens[1:]):
        if prev.type == tokenize.OP and prev.string == "." and tok.type == tokenize.NAME \
                and tok.string == "_value":
            hits[tok.start[0]] = tok.line.strip()
    return sorted(hits.items())


def _offenders():
    out = []
    for pkg in ABOVE_CORE:
        base = ROOT / pkg
        files = [base.with_suffix(".py")] if not base.is_dir() else sorted(base.rglob("*.py"))
        for path in files:
            if not path.exists():
                continue
            rel = path.relative_to(ROOT).as_posix()
            for lineno, text in _code_lines(path):
                if (rel, text) not in ALLOWED:
                    out.append(f"tenfold/{rel}:{lineno}: {text}")
    return out


def test_every_package_above_the_core_exists():
    # a renamed package would otherwise silently drop out of the check below
    missing = [p for p in ABOVE_CORE if not (ROOT / p).is_dir() and
               not (ROOT / p).with_suffix(".py").exists()]
    assert missing == []


def test_no_tensor_value_reads_above_the_core():
    offenders = _offenders()
    assert offenders == [], (
        "code above the core reads `._value`; use tenfold ops, tenfold.framework.host "
        "(to_host/from_host/eager_values), tenfold.ops.buffers (stateful kernels) or "
        "tenfold.util.tensor_meta (npd/shape_of/size_of) instead:\n" + "\n".join(offenders))


def test_the_scanner_finds_a_read(tmp_path):
    # the check can fail: a planted read is found, a docstring mention and `_value_dense` not
    f = tmp_path / "m.py"
    f.write_text('"""mentions t._value in a docstring"""\n'
                 "a = t._value_dense\n"
                 "b = t._value.shape  # a read\n"
                 "c = (t\n     ._value)\n")
    assert [n for n, _ in _code_lines(f)] == [3, 5]
