#!/usr/bin/env python3
"""Run the README's examples and compare what they print with what the README shows.

Usage (from the repository root)::

    python3 scripts/readme_blocks.py                 # check every block, print a diff for each mismatch
    python3 scripts/readme_blocks.py --quick         # only blocks marked <!-- readme-check: quick -->
    python3 scripts/readme_blocks.py --update        # rewrite the README's shown output from the real output
    python3 scripts/readme_blocks.py --list          # the blocks, their line numbers and markers
    python3 scripts/readme_blocks.py --help-examples # run the examples of `seqconv [COMMAND] --help` instead

What runs
---------
* ```` ```console ```` and ```` ```bash ```` blocks: every line that starts with ``$ `` is a command (a line
  ending in ``\\`` continues on the next one); the lines after it, up to the next ``$ ``, are its shown output
  (stdout and stderr together, as without a terminal: progress is line-wise, no bars).  The commands of one
  block run in one ``bash`` process, so a variable set in a block (``$ G=...``) holds for the rest of it.
  A command must exit 0 unless its shown output contains ``error:`` (an example of a refused input).
* ```` ```python ```` blocks: with ``>>>`` prompts they run as doctests (ELLIPSIS, NORMALIZE_WHITESPACE);
  otherwise the block runs as a script and must not raise.
* An HTML comment on the line right above the opening fence sets how a block is run:
  ``<!-- readme-check: skip REASON -->`` (not run: it installs packages, needs a GPU or a cluster, or
  rebuilds the bundled models for hours; REASON says which), ``<!-- readme-check: quick -->`` (also run by
  ``--quick``, the non-slow test), ``<!-- readme-check: shared -->`` (reads ``../shared/data``, the project's
  data folder that a clone lacks: run only where it exists, reported as skipped elsewhere).  Commands with no
  shown output are run, not compared.
* ``<!-- readme-check: approx TOL -->`` (on its own line, next to any other marker): numbers written with a
  decimal point in the block's shown output match real numbers within ``TOL`` (absolute); all other text,
  integers included, must match exactly.  For training output: PyTorch's CPU kernels sum in a different order
  on different CPUs (AVX-512 vs AVX2 paths, seen here on Intel Xeon vs AMD EPYC hosts), so a model trained with
  the same seed and data differs in the last digits from one machine to another; the README shows one
  machine's run.

Every block runs in README order in one scratch folder laid out like a clone: ``<scratch>/clone`` holds a
copy of ``data/`` and links to every other top-level entry of the repository, and ``<scratch>/shared``
links to ``../shared`` when the repository has one beside it, so ``../shared/data`` resolves as in a
clone.  Outputs go to the scratch folder, never into the repository.  ``PYTHONPATH`` is the repository
root, so the code checked is this checkout's.  ``--quick`` runs only the quick blocks (they must therefore
not depend on files written by other blocks).

Normalisation (applied to shown and real output alike before they are compared)
------------------------------------------------------------------------------
* a line holding carriage returns becomes what a terminal leaves visible (each ``\\r`` overwrites from column 0);
* progress-bar lines (tqdm's ``NN%|####|``, whose number depends on timing) and the blank lines next to them
  are dropped (``--update`` writes the output without them);
* trailing white space of each line, and leading and trailing blank lines, are dropped;
* durations and rates: ``3.9s``, ``29 s``, ``5636 windows/s``, ``3.20batch/s`` and tqdm's ``[00:12<00:36, ...]``
  become ``<t>``, and so do the clock times of progress lines (``0:00:04 elapsed``, ``ETA 0:00:10``);
* the scratch folder's absolute path becomes ``.`` (as in the clone's root);
* a shown line that is exactly ``...`` stands for any number of lines (and ``--update`` keeps as many lines
  before and after it as the README shows); ``...`` inside a line stands for any text.

``--update`` rewrites only the commands whose output differs after normalisation, so reruns do not churn
timings.  Exit status: 0 when every block matches (or was updated), 1 otherwise.
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
SHELL_LANGS = ("console", "bash", "shell", "sh")
MARKER = re.compile(r"<!--\s*readme-check:\s*(\w+)\s*(.*?)\s*-->")
SENTINEL = "@@readme-check-end"
_BAR = re.compile(r"\d+%\|.*\|")
MODES = ("full", "quick", "shared", "skip")
_DECIMAL = re.compile(r"-?\d+\.\d+(?:e[+-]?\d+)?")
SHARED = ROOT.parent / "shared" / "data"
_TIME = re.compile(r"\b\d+(?:\.\d+)?(?:e[+-]?\d+)?\s?(?:[A-Za-z]*/s|s)\b|\[\d+:\d\d(?::\d\d)?<[^\]]*\]"
                   r"|\b\d+:\d\d:\d\d(?= elapsed)|(?<=ETA )\d+:\d\d:\d\d")   # progress lines' clock times


@dataclass
class Command:
    """One ``$`` command of a shell block and the output the README shows for it."""

    text: str                 # the command, continuation lines joined by newlines (as bash reads them)
    first_line: int           # 0-based index of its ``$`` line in the README
    n_lines: int              # README lines of the command itself
    shown: list[str] = field(default_factory=list)


@dataclass
class Block:
    """One fenced code block of the README."""

    lang: str
    start: int                # 0-based index of the opening fence line
    end: int                  # 0-based index of the closing fence line
    body: list[str]
    mode: str = "full"        # full | quick | skip
    reason: str = ""
    approx: float = 0.0       # tolerance of decimal numbers (``approx`` marker; 0: exact)
    commands: list[Command] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"README.md:{self.start + 1} ({self.lang})"


def parse_readme(lines: list[str]) -> list[Block]:
    """Find the fenced blocks of ``lines``, their markers and (shell blocks) their commands."""
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        stripped = lines[i].strip()
        if stripped.startswith("```") and len(stripped) > 3:
            indent = lines[i][: len(lines[i]) - len(lines[i].lstrip())]
            lang = stripped[3:].strip().split()[0]
            j = i + 1
            while j < len(lines) and lines[j].strip() != "```":
                j += 1
            body = [ln[len(indent):] if ln.startswith(indent) else ln for ln in lines[i + 1: j]]
            block = Block(lang=lang, start=i, end=j, body=body)
            k = i - 1
            while k >= 0 and MARKER.search(lines[k]):
                m = MARKER.search(lines[k])
                if m.group(1) == "approx":
                    try:
                        block.approx = float(m.group(2))
                    except ValueError:
                        raise SystemExit(f"README.md:{k + 1}: 'approx' needs a tolerance, e.g. approx 0.05") from None
                else:
                    block.mode, block.reason = m.group(1), m.group(2)
                k -= 1
            if block.mode not in MODES:
                raise SystemExit(f"README.md:{k + 2}: unknown readme-check marker {block.mode!r}")
            if lang in SHELL_LANGS:
                block.commands = _commands(body, i + 1)
            blocks.append(block)
            i = j + 1
        elif stripped.startswith("```"):
            j = i + 1  # a fence without a language: shown text, not run
            while j < len(lines) and lines[j].strip() != "```":
                j += 1
            i = j + 1
        else:
            i += 1
    return blocks


def _commands(body: list[str], offset: int) -> list[Command]:
    """Split a shell block's lines into commands (``$ ``, with ``\\`` continuations) and shown output."""
    cmds: list[Command] = []
    i = 0
    if body and not body[0].startswith("$"):
        # a block without prompts (```bash in "Set-up"): every line is a command, nothing is shown
        return [Command(text=ln, first_line=offset + n, n_lines=1) for n, ln in enumerate(body) if ln.strip()]
    while i < len(body):
        line = body[i]
        if line.startswith("$ ") or line == "$":
            parts = [line[2:]]
            n = 1
            while parts[-1].endswith("\\") and i + n < len(body):
                parts.append(body[i + n])
                n += 1
            cmds.append(Command(text="\n".join(parts), first_line=offset + i, n_lines=n))
            i += n
        else:
            if not cmds:
                raise SystemExit(f"README.md:{offset + i + 1}: output line before any '$ ' command")
            cmds[-1].shown.append(line)
            i += 1
    return cmds


# --------------------------------------------------------------------------------------------------- compare
def normalise(text: str, scratch: Path, *, times: bool = True) -> list[str]:
    """The lines of ``text`` with the documented normalisation applied (``times=False``: all but the times)."""
    for p in sorted({str(scratch / "clone"), str((scratch / "clone").resolve()), str(ROOT)}, key=len,
                    reverse=True):
        text = text.replace(p + "/", "").replace(p, ".")
    text = text.replace(str(scratch.resolve()) + "/", "../").replace(str(scratch) + "/", "../")
    lines = _drop_bars([_after_cr(ln).rstrip() for ln in text.split("\n")])
    if times:
        lines = [_TIME.sub("<t>", ln) for ln in lines]
    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    return lines


def _drop_bars(lines: list[str]) -> list[str]:
    """``lines`` without progress-bar lines (tqdm's ``NN%|...|``) and the blank lines next to them."""
    bar = [_BAR.search(ln) is not None for ln in lines]
    keep = []
    for i, ln in enumerate(lines):
        near_bar = (i > 0 and bar[i - 1]) or (i + 1 < len(lines) and bar[i + 1])
        if not bar[i] and not (ln == "" and near_bar):
            keep.append(ln)
    return keep


def _after_cr(line: str) -> str:
    """What a terminal shows of ``line``: each carriage return goes back to column 0 and overwrites."""
    if "\r" not in line:
        return line
    shown = ""
    for part in line.split("\r"):
        shown = part + shown[len(part):]
    return shown


def _line_matches(pattern: str, line: str, tol: float = 0.0) -> bool:
    """Whether ``line`` matches the shown ``pattern`` (``...`` = any text; ``tol`` > 0: its decimal numbers
    within ``tol`` of the pattern's)."""
    if tol <= 0 or not _DECIMAL.search(pattern):
        if "..." not in pattern:
            return pattern == line
        rx = ".*".join(re.escape(part) for part in pattern.split("..."))
        return re.fullmatch(rx, line) is not None
    want: list[float] = []
    pieces = []
    for part in pattern.split("..."):
        at, rx = 0, []
        for m in _DECIMAL.finditer(part):
            rx.append(re.escape(part[at:m.start()]) + f"({_DECIMAL.pattern})")
            want.append(float(m.group()))
            at = m.end()
        pieces.append("".join(rx) + re.escape(part[at:]))
    got = re.fullmatch(".*".join(pieces), line)
    return got is not None and all(abs(float(g) - w) <= tol + 1e-12 for g, w in zip(got.groups(), want))


def matches(shown: list[str], real: list[str], tol: float = 0.0) -> bool:
    """Whether the shown lines (with ``...`` elisions) match the real lines (``tol``: see :func:`_line_matches`)."""
    memo: dict[tuple[int, int], bool] = {}

    def go(i: int, j: int) -> bool:
        if (i, j) in memo:
            return memo[i, j]
        if i == len(shown):
            r = j == len(real)
        elif shown[i] == "...":
            r = any(go(i + 1, k) for k in range(j, len(real) + 1))
        else:
            r = j < len(real) and _line_matches(shown[i], real[j], tol) and go(i + 1, j + 1)
        memo[i, j] = r
        return r

    return go(0, 0)


def updated_output(shown: list[str], real: list[str]) -> list[str]:
    """The output to write back: the real lines, keeping the README's ``...`` elision if it has one."""
    if "..." in shown:
        cut = shown.index("...")
        head, tail = cut, len(shown) - cut - 1
        if head + tail < len(real):
            new = real[:head] + ["..."] + (real[len(real) - tail:] if tail else [])
            return [s if s != "..." and _line_matches(s, r) else r for s, r in zip(shown[:head], new[:head])] \
                + new[head:]
    return real


# ------------------------------------------------------------------------------------------------------ run
def make_scratch(scratch: Path) -> Path:
    """Lay out ``scratch`` like a clone (see the module docstring); return the folder to run in."""
    clone = scratch / "clone"
    clone.mkdir(parents=True)
    for entry in ROOT.iterdir():
        if entry.name in (".git", "out", "results", ".snakemake", ".pytest_cache") or entry.name == "data":
            continue
        (clone / entry.name).symlink_to(entry)
    shutil.copytree(ROOT / "data", clone / "data", ignore=shutil.ignore_patterns("*.fai", "*.gzi"))
    shared = ROOT.parent / "shared"
    if shared.is_dir():
        (scratch / "shared").symlink_to(shared)
    return clone


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.pop("COLUMNS", None)
    env["PYTHONUNBUFFERED"] = "1"
    env["TERM"] = "dumb"
    return env


def run_shell(block: Block, clone: Path, timeout: float) -> list[tuple[int, str]]:
    """Run a shell block's commands in one bash; return each command's exit status and output."""
    script = ["exec 2>&1"]
    for cmd in block.commands:
        script.append(cmd.text)
        script.append(f'__rc=$?; echo; echo "{SENTINEL} $__rc"; (exit $__rc)')
    proc = subprocess.run(["bash", "-c", "\n".join(script)], cwd=clone, env=_env(), stdout=subprocess.PIPE,
                          stdin=subprocess.DEVNULL, text=True, timeout=timeout)
    out: list[tuple[int, str]] = []
    chunk: list[str] = []
    for line in proc.stdout.split("\n"):
        if line.startswith(SENTINEL):
            text = "\n".join(chunk)
            out.append((int(line.split()[-1]), text[:-1] if text.endswith("\n") else text))
            chunk = []
        else:
            chunk.append(line)
    while len(out) < len(block.commands):  # bash exited early (``exit`` in a block)
        out.append((proc.returncode, "\n".join(chunk)))
        chunk = []
    return out


def run_python(block: Block, clone: Path, timeout: float) -> tuple[bool, str]:
    """Run a python block (a doctest when it has ``>>>`` prompts); return (passed, report)."""
    source = "\n".join(block.body) + "\n"
    path = clone.parent / f"block_{block.start + 1}.py"
    if any(ln.lstrip().startswith(">>> ") for ln in block.body):
        path.write_text(
            "import doctest, sys\n"
            f"text = {source!r}\n"
            "test = doctest.DocTestParser().get_doctest(text, {}, 'README.md', 'README.md', "
            f"{block.start + 1})\n"
            "runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)\n"
            "runner.run(test)\n"
            "sys.exit(1 if runner.failures else 0)\n")
    else:
        path.write_text(source)
    proc = subprocess.run([sys.executable, str(path)], cwd=clone, env=_env(), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True, timeout=timeout)
    return proc.returncode == 0, proc.stdout


def check(blocks: list[Block], lines: list[str], *, quick: bool, update: bool, keep: Path | None,
          timeout: float, verbose: bool) -> tuple[bool, list[str]]:
    """Run ``blocks``; return (all matched, the README lines, rewritten where ``update`` asked)."""
    scratch = Path(tempfile.mkdtemp(prefix="readme-check-")) if keep is None else keep
    if keep is not None and keep.exists():
        shutil.rmtree(keep)
    clone = make_scratch(scratch)
    ok = True
    replacements: dict[int, tuple[int, list[str]]] = {}   # first README line -> (n lines replaced, new lines)
    try:
        for block in blocks:
            if block.mode == "skip" or (quick and block.mode != "quick"):
                if verbose and block.mode == "skip":
                    print(f"skip  {block.name}: {block.reason}")
                continue
            if block.mode == "shared" and not SHARED.is_dir():
                print(f"skip  {block.name}: needs {SHARED.name} beside the clone (../shared/data)")
                continue
            t0 = time.perf_counter()
            if block.lang == "python":
                passed, report = run_python(block, clone, timeout)
                status = "ok" if passed else "FAIL"
                print(f"{status:5s} {block.name}  {time.perf_counter() - t0:.1f}s")
                if not passed:
                    ok = False
                    print(report.rstrip())
                continue
            results = run_shell(block, clone, timeout)
            block_ok = True
            for cmd, (rc, text) in zip(block.commands, results):
                real = normalise(text, scratch)
                shown = [ln.rstrip() for ln in cmd.shown]
                while shown and not shown[-1]:
                    shown.pop()
                shown = [_TIME.sub("<t>", ln) for ln in shown]
                first_cmd_line = cmd.text.split("\n")[0]
                if rc != 0 and not any("error:" in ln.lower() for ln in cmd.shown):
                    block_ok = False
                    print(f"FAIL  README.md:{cmd.first_line + 1}: `{first_cmd_line}` exited {rc}:")
                    print("\n".join("      " + ln for ln in real[-30:]))
                    continue
                if not cmd.shown or matches(shown, real, block.approx):
                    continue
                block_ok = False
                if update:
                    new = updated_output([ln.rstrip() for ln in cmd.shown], normalise(text, scratch, times=False))
                    indent = lines[block.start][: len(lines[block.start]) - len(lines[block.start].lstrip())]
                    replacements[cmd.first_line + cmd.n_lines] = (len(cmd.shown), [indent + ln for ln in new])
                    print(f"upd   README.md:{cmd.first_line + 1}: `{first_cmd_line}`")
                else:
                    print(f"DIFF  README.md:{cmd.first_line + 1}: `{first_cmd_line}` (- README, + real)")
                    for d in difflib.unified_diff(shown, real, lineterm="", n=1):
                        if not d.startswith(("---", "+++")):
                            print("      " + d)
            status = "ok" if block_ok else ("upd" if update else "FAIL")
            print(f"{status:5s} {block.name}  {time.perf_counter() - t0:.1f}s")
            ok = ok and (block_ok or update)
    finally:
        if keep is None:
            shutil.rmtree(scratch, ignore_errors=True)
    new_lines = list(lines)
    for start in sorted(replacements, reverse=True):
        n, repl = replacements[start]
        new_lines[start: start + n] = repl
    return ok, new_lines


def help_examples(text: str) -> list[str]:
    """The commands of the ``Example:`` / ``Examples:`` / ``Typical run:`` paragraphs of a ``--help`` text."""
    cmds: list[str] = []
    inside = False
    for line in text.split("\n"):
        stripped = line.strip()
        if stripped in ("Example:", "Examples:") or stripped.startswith("Typical run") and stripped.endswith(":"):
            inside = True
        elif inside and (not stripped or stripped.endswith(":")):
            inside = False
        elif inside:
            if cmds and cmds[-1].endswith("\\"):
                cmds[-1] += "\n" + stripped
            else:
                cmds.append(stripped)
    return cmds


def check_help_examples(timeout: float, only: list[str] | None = None) -> bool:
    """Run every ``seqconv [COMMAND] --help`` example in a scratch clone; report the failing ones."""
    env = _env()
    top = subprocess.run(["seqconv", "--help"], capture_output=True, text=True, env=env,
                         cwd=ROOT).stdout
    names = [""] + [ln.split()[0] for ln in top.split("Commands:", 1)[1].split("\n") if ln.strip()]
    names = [n for n in names if not only or n in only]
    scratch = Path(tempfile.mkdtemp(prefix="help-check-"))
    clone = make_scratch(scratch)
    ok = True
    try:
        for name in names:
            helptext = subprocess.run(["seqconv", *([name] if name else []), "--help"],
                                      capture_output=True, text=True, env=env, cwd=ROOT).stdout
            block = Block(lang="console", start=0, end=0, body=[])
            block.commands = [Command(text=c, first_line=0, n_lines=1) for c in help_examples(helptext)]
            if not block.commands:
                print(f"FAIL  seqconv {name} --help: no example")
                ok = False
                continue
            for cmd, (rc, out) in zip(block.commands, run_shell(block, clone, timeout)):
                first = cmd.text.split("\n")[0]
                if rc != 0:
                    ok = False
                    print(f"FAIL  seqconv {name} --help: `{first}` exited {rc}:")
                    print("\n".join("      " + ln for ln in normalise(out, scratch)[-6:]))
                else:
                    print(f"ok    seqconv {name} --help: `{first}`")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return ok


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--readme", type=Path, default=README)
    ap.add_argument("--quick", action="store_true", help="only blocks marked <!-- readme-check: quick -->")
    ap.add_argument("--update", action="store_true", help="rewrite the README's shown output")
    ap.add_argument("--list", action="store_true", help="list the blocks and exit")
    ap.add_argument("--keep", type=Path, default=None, help="scratch folder to use and keep (emptied first)")
    ap.add_argument("--only", type=int, nargs="*", default=None,
                    help="only the blocks whose opening fence is on these README lines")
    ap.add_argument("--timeout", type=float, default=900, help="seconds per block (default 900)")
    ap.add_argument("-v", "--verbose", action="store_true", help="also list skipped blocks")
    ap.add_argument("--help-examples", nargs="*", metavar="COMMAND", default=None,
                    help="run the examples of `seqconv [COMMAND] --help` (all commands, or these; exit status only)")
    args = ap.parse_args(argv)
    if args.help_examples is not None:
        return 0 if check_help_examples(args.timeout, args.help_examples) else 1
    lines = args.readme.read_text().split("\n")
    blocks = parse_readme(lines)
    if args.only is not None:
        blocks = [b for b in blocks if b.start + 1 in args.only]
    if args.list:
        for b in blocks:
            extra = f" {b.reason}" if b.reason else ""
            print(f"{b.name:32s} {b.mode:5s} {len(b.commands)} command(s){extra}")
        return 0
    ok, new_lines = check(blocks, lines, quick=args.quick, update=args.update, keep=args.keep,
                          timeout=args.timeout, verbose=args.verbose)
    if args.update and new_lines != lines:
        args.readme.write_text("\n".join(new_lines))
        print(f"rewrote {args.readme.name}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
