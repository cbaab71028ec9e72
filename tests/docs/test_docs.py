"""Every ```python block of README.md and docs/*.md runs as written, in order per page, in
one namespace per page (as a reader would paste them), in a temporary folder, without
downloads. Blocks that train long or block on a server carry a cut-down marker
(tests/docs/doc_blocks.py)."""
import pathlib
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from doc_blocks import python_blocks  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md"] + sorted((ROOT / "docs").glob("*.md"))


def _id(page):
    return str(page.relative_to(ROOT))


@pytest.mark.parametrize("page", PAGES, ids=_id)
def test_page_blocks_run(page, tmp_path, monkeypatch):
    blocks = python_blocks(page.read_text(encoding="utf-8"))
    if not blocks:
        return  # a page without Python code has nothing to run
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TENFOLD_OFFLINE", "1")  # datasets: local files or generated digits
    monkeypatch.setenv("TENFOLD_HOME", str(tmp_path / "tenfold_home"))
    namespace = {"__name__": "__doc__"}
    for block in blocks:
        code = compile(block.runnable(), f"{_id(page)}:{block.line}", "exec")
        try:
            exec(code, namespace)  # noqa: S102 - the docs' own code
        except Exception as e:
            raise AssertionError(f"{_id(page)}, the code block at line {block.line} fails: "
                                 f"{type(e).__name__}: {e}") from e


def test_harness_reads_markers():
    text = ('intro\n<!-- doctest: setup: a = 1 -->\n<!-- doctest: cut-down: "a + 1" => '
            '"a + 2"; "b =" => "b =" -->\n```python\nb = a + 1\n```\n\n```bash\nls\n```\n'
            '```python\nc = b\n```\n')
    first, second = python_blocks(text)
    ns = {}
    exec(first.runnable(), ns)  # noqa: S102
    assert ns["b"] == 3 and first.line == 4
    assert second.setup == "" and second.replacements == ()


def test_harness_refuses_a_stale_cut_down():
    (block,) = python_blocks('<!-- doctest: cut-down: "epochs=5" => "epochs=1" -->\n'
                             '```python\nfit(epochs=10)\n```\n')
    with pytest.raises(ValueError, match="no longer contains"):
        block.runnable()
