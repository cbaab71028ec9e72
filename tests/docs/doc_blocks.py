"""Extracts the ```python blocks of a Markdown page, with the doctest markers before them.

A block runs as written unless an HTML comment right before its fence says otherwise:

    <!-- doctest: setup: x = np.zeros((600, 784), "float32") -->
        Python run before the block (for fragments that show one line of a larger program).
    <!-- doctest: cut-down: "epochs=5" => "epochs=1"; "fit(x, y" => "fit(x[:512], y[:512]" -->
        Replacements made before the block runs, so that long training or a blocking server
        runs in a short form; each old text must occur in the block (a renamed call fails the
        test instead of silently running the long form).

Blocks of other languages (bash, ...) are not run here: the commands they show are covered by
their own tests (tests/docs/test_examples.py runs the Quick start's example).
"""
import dataclasses
import re

_FENCE = re.compile(r"^```(\w*)\s*$")
_MARKER = re.compile(r"^<!--\s*doctest:\s*(setup|cut-down):\s*(.*?)\s*-->\s*$")
_PAIR = re.compile(r'"((?:[^"\\]|\\.)*)"\s*=>\s*"((?:[^"\\]|\\.)*)"')


@dataclasses.dataclass
class Block:
    line: int            # 1-based line of the opening fence
    code: str            # as written on the page
    setup: str = ""
    replacements: tuple = ()

    def runnable(self):
        """The code to run: the setup, then the block with its cut-down replacements."""
        code = self.code
        for old, new in self.replacements:
            if old not in code:
                raise ValueError(f"block at line {self.line}: the cut-down marker replaces "
                                 f"{old!r}, which the block no longer contains; update the "
                                 "marker.")
            code = code.replace(old, new)
        return (self.setup + "\n" if self.setup else "") + code


def _unescape(s):
    return s.replace('\\"', '"').replace("\\\\", "\\")


def python_blocks(text):
    """The ```python blocks of a page, in order, with their markers."""
    lines = text.splitlines()
    blocks, i = [], 0
    pending = {"setup": [], "cut-down": []}
    while i < len(lines):
        marker = _MARKER.match(lines[i])
        if marker:
            kind, body = marker.groups()
            if kind == "setup":
                pending["setup"].append(body)
            else:
                pairs = _PAIR.findall(body)
                if not pairs:
                    raise ValueError(f"line {i + 1}: a cut-down marker needs "
                                     '"old" => "new" pairs separated by ";".')
                pending["cut-down"].extend((_unescape(a), _unescape(b)) for a, b in pairs)
            i += 1
            continue
        fence = _FENCE.match(lines[i])
        if fence:
            lang, start = fence.group(1), i
            i += 1
            body = []
            while i < len(lines) and not lines[i].startswith("```"):
                body.append(lines[i])
                i += 1
            if lang == "python":
                blocks.append(Block(start + 1, "\n".join(body) + "\n",
                                    "\n".join(pending["setup"]),
                                    tuple(pending["cut-down"])))
            pending = {"setup": [], "cut-down": []}
        elif lines[i].strip():
            pending = {"setup": [], "cut-down": []}  # markers apply only to the next block
        i += 1
    return blocks
