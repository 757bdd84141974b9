"""seqconv.cli's lazy command loading: every command is listed and found, and a command imports only its module."""

import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path

import seqconv.cli
from seqconv.cli import main
from seqconv.cli._common import COMMAND_MODULES

ROOT = Path(__file__).resolve().parents[1]


def test_every_registered_command_is_in_the_map():
    """A command missing from COMMAND_MODULES would stay invisible until its module happened to be imported."""
    for info in pkgutil.iter_modules(seqconv.cli.__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"seqconv.cli.{info.name}")
    assert set(main.commands) == set(COMMAND_MODULES)
    for name, module in COMMAND_MODULES.items():
        assert main.commands[name].callback.__module__ == f"seqconv.cli.{module}"


def _python(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}).stdout.strip()


def test_a_command_imports_its_own_module_only():
    code = ("import sys\n"
            "from seqconv.cli import main\n"
            "before = sorted(m for m in sys.modules if m.startswith('seqconv.cli.'))\n"
            "cmd = main.commands['scan']\n"
            "after = sorted(m for m in sys.modules if m.startswith('seqconv.cli.'))\n"
            "print(before, after, 'torch' in sys.modules, 'seqconv.train' in sys.modules)")
    assert _python(code) == "['seqconv.cli._common'] ['seqconv.cli._common', 'seqconv.cli.scan'] False False"


def test_help_lists_every_command():
    out = subprocess.run([sys.executable, "-c", "from seqconv.cli import main; main()", "--help"], capture_output=True,
                         text=True, cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    listed = [line.split()[0] for line in out.stdout.split("Commands:")[1].splitlines() if line.strip()]
    assert listed == sorted(COMMAND_MODULES)


def test_a_scan_to_a_file_imports_neither_pandas_nor_scipy_linalg(tmp_path):
    """``seqconv scan`` writes its table without the DataFrame's pandas and pyarrow, and numba's registries load
    without the scipy.linalg of its BLAS probe (seqconv.scan.jit.load_numba_registries): ~0.5 CPU s of start-up."""
    fa = tmp_path / "a.fa"
    fa.write_text(">s1\nACGTGACGTCATGCAAATGACGTCAGTGCAC\n")
    out = tmp_path / "hits.tsv"
    code = ("import sys\n"
            "from seqconv.cli import main\n"
            f"main(['scan', '--motifs', 'jaspar', '--fasta', {str(fa)!r}, '--out', {str(out)!r}, '-q', "
            "'--threshold', '1e-3'], standalone_mode=False)\n"
            "print([m for m in ('pandas', 'pyarrow', 'scipy.linalg', 'torch') if m in sys.modules])")
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "SEQCONV_SCAN_CACHE": "off"}  # no 150 MB cache file
    got = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT, env=env)
    assert got.stdout.strip() == "[]"
    assert out.read_text().startswith("motif_id\t") and len(out.read_text().splitlines()) > 1
