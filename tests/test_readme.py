"""README.md's examples run as written and print what the README shows (scripts/readme_blocks.py).

The parser and the comparison are tested on small constructed READMEs; the real README's quick blocks run in
the default suite, every block in the slow one.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "readme_blocks.py"
SHARED = ROOT.parent / "shared" / "data"

_spec = importlib.util.spec_from_file_location("readme_blocks", SCRIPT)
rb = importlib.util.module_from_spec(_spec)
sys.modules["readme_blocks"] = rb
_spec.loader.exec_module(rb)


def _run(*args: str, readme: Path | None = None) -> subprocess.CompletedProcess:
    cmd = [sys.executable, str(SCRIPT), *args] + (["--readme", str(readme)] if readme else [])
    return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)


def test_parse_commands_continuations_markers_and_output():
    text = """intro
<!-- readme-check: skip needs a GPU -->
```console
$ nvidia-smi
```

<!-- readme-check: quick -->
```console
$ G=x
$ echo a \\
      b
a b
$ true
```

  ```console
  $ echo indented
  indented
  ```

```python
x = 1
```

```
not run
```
"""
    blocks = rb.parse_readme(text.split("\n"))
    assert [(b.lang, b.mode) for b in blocks] == [("console", "skip"), ("console", "quick"),
                                                  ("console", "full"), ("python", "full")]
    assert blocks[0].reason == "needs a GPU"
    cmds = blocks[1].commands
    assert [c.text for c in cmds] == ["G=x", "echo a \\\n      b", "true"]
    assert [c.shown for c in cmds] == [[], ["a b"], []]
    assert cmds[1].first_line == 9 and cmds[1].n_lines == 2
    assert blocks[2].commands[0].text == "echo indented" and blocks[2].commands[0].shown == ["indented"]
    assert blocks[3].body == ["x = 1"]


def test_matching_elisions_and_normalisation(tmp_path):
    assert rb.matches(["a", "...", "z"], ["a", "b", "c", "z"])
    assert rb.matches(["a", "...", "z"], ["a", "z"])
    assert not rb.matches(["a", "...", "z"], ["a", "b"])
    assert rb.matches(["epoch 1 loss ..."], ["epoch 1 loss 0.7"])
    assert not rb.matches(["epoch 1 loss ..."], ["epoch 2 loss 0.7"])
    assert not rb.matches(["a"], ["a", "b"])
    scratch = tmp_path / "s"
    text = f"wrote {scratch}/clone/out/x.tsv in 3.9s (512 windows/s), 29 s total\n\n"
    assert rb.normalise(text, scratch) == ["wrote out/x.tsv in <t> (<t>), <t> total"]
    assert rb.normalise(text, scratch, times=False) == ["wrote out/x.tsv in 3.9s (512 windows/s), 29 s total"]
    prog = "drew 20/64 logos (31.2%), 4.6 logos/s, 0:00:04 elapsed, ETA 0:00:10\n"
    assert rb.normalise(prog, scratch) == ["drew 20/64 logos (31.2%), <t>, <t> elapsed, ETA <t>"]
    # carriage returns: what a terminal leaves on screen; tqdm's elapsed<remaining
    bar = ("\r  0%|   | 0/1 [00:00<?, ?batch/s]\r                                 \rwrote m.tsv\n"
           "x: 100%|#| 4/4 [00:01<00:00]")
    assert rb.normalise(bar, scratch) == ["wrote m.tsv"]
    bars = "200 sequences\n\nact:  25%|#  | 1/4\nact: 100%|###| 4/4\n\n64 motifs"
    assert rb.normalise(bars, scratch) == ["200 sequences", "64 motifs"]
    assert rb.normalise("x\n0%|   | 0/1\n\n", scratch) == rb.normalise("x\n", scratch) == ["x"]
    # --update keeps the README's elision: as many lines before and after `...` as it shows
    assert rb.updated_output(["h ...", "...", "t"], ["h 1", "m", "n", "t2"]) == ["h ...", "...", "t2"]
    assert rb.updated_output(["g ...", "...", "t"], ["h 1", "m", "n", "t2"]) == ["h 1", "...", "t2"]
    assert rb.updated_output(["h ...", "...", "t"], ["h x", "m", "t"]) == ["h ...", "...", "t"]


def test_approx_marker_tolerates_decimals_only():
    text = """<!-- readme-check: shared -->
<!-- readme-check: approx 0.05 -->
```console
$ train
test: auROC 0.7909  MCC 0.5200  (mean over 1 TF(s), 144 windows)
```
"""
    (block,) = rb.parse_readme(text.split("\n"))
    assert block.mode == "shared" and block.approx == 0.05       # both markers hold
    shown = block.commands[0].shown
    assert rb.matches(shown, ["test: auROC 0.7901  MCC 0.4900  (mean over 1 TF(s), 144 windows)"], 0.05)
    assert not rb.matches(shown, ["test: auROC 0.7901  MCC 0.4900  (mean over 1 TF(s), 144 windows)"])  # exact
    assert not rb.matches(shown, ["test: auROC 0.6901  MCC 0.5200  (mean over 1 TF(s), 144 windows)"], 0.05)
    assert not rb.matches(shown, ["test: auROC 0.7909  MCC 0.5200  (mean over 1 TF(s), 145 windows)"], 0.05)
    assert not rb.matches(shown, ["test: auPRC 0.7909  MCC 0.5200  (mean over 1 TF(s), 144 windows)"], 0.05)
    # with an elision inside the line, and negative numbers / exponents
    assert rb.matches(["best epoch ... (valid auPRC 0.8873); lr -1.0e-03"],
                      ["best epoch 20 (valid auPRC 0.8868); lr -1.01e-03"], 0.05)
    assert not rb.matches(["best epoch ... (valid auPRC 0.8873)"], ["best epoch 20 (valid auPRC 0.7868)"], 0.05)
    try:
        rb.parse_readme(["<!-- readme-check: approx x -->", "```console", "$ a", "```"])
    except SystemExit as exc:
        assert "tolerance" in str(exc)
    else:
        raise AssertionError("a bad tolerance was accepted")


def test_check_and_update_on_a_constructed_readme(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("""# t

```console
$ printf 'one\\ntwo\\n'
one
two
$ echo "took 1.5s"
took 2.0s
$ echo changed
stale
```

```python
>>> 1 + 1
2
```
""")
    res = _run("--update", readme=readme)
    assert res.returncode == 0, res.stdout + res.stderr
    new = readme.read_text()
    assert "changed\n```" in new and "stale" not in new
    assert "took 2.0s" in new           # equal after normalising the time: left as it was
    assert "one\ntwo\n" in new
    res = _run(readme=readme)
    assert res.returncode == 0, res.stdout + res.stderr
    readme.write_text(new.replace("changed\n```", "different\n```").replace(">>> 1 + 1\n2", ">>> 1 + 1\n3"))
    res = _run(readme=readme)
    assert res.returncode == 1
    assert "-different" in res.stdout and "+changed" in res.stdout
    assert "Failed example" in res.stdout


def test_a_failing_command_fails_unless_an_error_is_shown(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("```console\n$ ls no-such-file\n```\n")
    res = _run(readme=readme)
    assert res.returncode == 1 and "exited 2" in res.stdout
    readme.write_text("```console\n$ echo 'x: error: bad' && false\nx: error: bad\n```\n")
    assert _run(readme=readme).returncode == 0
    readme.write_text("```python\nraise ValueError('boom')\n```\n")
    res = _run(readme=readme)
    assert res.returncode == 1 and "ValueError: boom" in res.stdout


def test_outputs_stay_in_the_scratch_folder(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("```console\n$ mkdir -p out && touch out/readme-check-probe && ls data/PROVENANCE.md\n"
                      "data/PROVENANCE.md\n```\n")
    res = _run(readme=readme)
    assert res.returncode == 0, res.stdout
    assert not (ROOT / "out" / "readme-check-probe").exists()


def test_readme_quick_examples():
    """The quick blocks of the real README (predict on bundled data, models, describe, scan, Python)."""
    res = _run("--quick")
    assert res.returncode == 0, res.stdout[-6000:] + res.stderr[-2000:]
    assert "ok" in res.stdout


@pytest.mark.slow
def test_readme_every_example():
    """Every block of the real README that is not marked skip (a few minutes on 2 cores)."""
    if not SHARED.is_dir():
        pytest.skip("../shared/data not present (the README's whole-genome examples read it)")
    res = _run()
    assert res.returncode == 0, res.stdout[-8000:] + res.stderr[-2000:]


def test_help_examples_are_extracted_with_continuations():
    text = """Usage: seqconv x

  Typical run (on the excerpt):
    seqconv prepare --peaks a.bed \\
        --out b.parquet
    seqconv train --data b.parquet

  Exit codes: 0 success.

Options:
  --out FILE  Example: not a command.
"""
    assert rb.help_examples(text) == ["seqconv prepare --peaks a.bed \\\n--out b.parquet",
                                      "seqconv train --data b.parquet"]
