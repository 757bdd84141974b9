"""seqconv.workflow and `seqconv workflow`: the Snakemake workflow ships in the package (so in the wheel) and
`seqconv workflow init DIR` makes a folder where the default config runs as it is."""

import os
import re
import shutil
import subprocess
import sys
import zipfile

import pytest
import yaml
from click.testing import CliRunner
from conftest import ROOT

from seqconv.cli import main
from seqconv.workflow import DEMO, FILES, WORKFLOW_DIR, init, workflow_dir


def _tree(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def test_packaged_files_match_the_repository_copies():
    """The repository runs the same rules, config and data (pipelines/Snakefile includes the packaged one)."""
    assert (ROOT / "pipelines" / "config.yaml").read_bytes() == (WORKFLOW_DIR / "config.yaml").read_bytes()
    for src, dst in DEMO:
        assert (WORKFLOW_DIR / src).read_bytes() == (ROOT / dst).read_bytes(), src
    assert 'workflow.include("../seqconv/workflow/Snakefile"' in (ROOT / "pipelines" / "Snakefile").read_text()


def test_init_copies_the_workflow_and_demo_data(tmp_path):
    out = tmp_path / "run"
    r = CliRunner().invoke(main, ["workflow", "init", str(out)])
    assert r.exit_code == 0, r.output
    assert _tree(out) == sorted([dst for _, dst in FILES + DEMO] + ["data/yeast/PROVENANCE.md"])
    for src, dst in FILES + DEMO:
        assert (out / dst).read_bytes() == (WORKFLOW_DIR / src).read_bytes()
    assert "snakemake --configfile config.yaml -c 2" in r.stderr
    # the config validates against the schema, and every file it names exists relative to the folder
    import jsonschema

    cfg = yaml.safe_load((out / "config.yaml").read_text())
    jsonschema.validate(cfg, yaml.safe_load((out / "config.schema.yaml").read_text()))
    named = [cfg["genome"], cfg["exclude"], *cfg["peaks"].values()]
    assert all((out / p).is_file() for p in named), named


def test_init_never_overwrites_and_no_demo_data(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "config.yaml").write_text("mine: 1\n")
    r = CliRunner().invoke(main, ["workflow", "init", str(out)])
    assert r.exit_code == 2 and "would be overwritten" in r.output and "config.yaml" in r.output
    assert _tree(out) == ["config.yaml"] and (out / "config.yaml").read_text() == "mine: 1\n"
    r = CliRunner().invoke(main, ["workflow", "init", "-o", str(out), "--force", "--no-demo-data", "-q"])
    assert r.exit_code == 0 and r.output == "", r.output
    assert _tree(out) == sorted(dst for _, dst in FILES)
    r = CliRunner().invoke(main, ["workflow", "init", str(out), "-o", str(out)])
    assert r.exit_code == 2 and "give the folder once" in r.output
    (tmp_path / "file").write_text("x")
    r = CliRunner().invoke(main, ["workflow", "init", str(tmp_path / "file")])
    assert r.exit_code == 2 and "Traceback" not in r.output


def test_print_path_and_help():
    r = CliRunner().invoke(main, ["workflow", "--print-path"])
    assert r.exit_code == 0 and r.output.strip() == str(workflow_dir())
    assert (workflow_dir() / "Snakefile").is_file()
    r = CliRunner().invoke(main, ["workflow"])
    assert r.exit_code == 0 and "init" in r.output and "--print-path" in r.output


def test_init_api_returns_written_files(tmp_path):
    written = init(tmp_path / "w", demo=False)
    assert [p.relative_to(tmp_path / "w").as_posix() for p in written] == [dst for _, dst in FILES]


@pytest.mark.slow
def test_the_wheel_ships_the_workflow_and_init_runs_from_it(tmp_path):
    """Build the wheel, unpack it (an installed wheel, without the repository), run `seqconv workflow init`
    from it and a Snakemake dry run in the new folder."""
    pytest.importorskip("setuptools")
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation",
                            "-w", str(tmp_path / "dist"), "-q"], capture_output=True, text=True, cwd=tmp_path)
    if build.returncode != 0:
        pytest.skip(f"cannot build a wheel here: {build.stderr[-300:]}")
    wheel = next((tmp_path / "dist").glob("seqconv-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for src, _ in FILES + DEMO:
        assert f"seqconv/workflow/{src}" in names, src
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    env = {**os.environ, "PYTHONPATH": str(site)}
    code = "from seqconv.cli import main; main()"
    r = subprocess.run([sys.executable, "-c", code, "workflow", "init", str(tmp_path / "run")], env=env,
                       capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([sys.executable, "-c", code, "workflow", "--print-path"], env=env, capture_output=True,
                       text=True, cwd=tmp_path)
    assert r.stdout.strip() == str(site / "seqconv" / "workflow")
    exe = shutil.which("snakemake")
    if exe is None:
        pytest.skip("snakemake is not installed: the files are checked above, the dry run is not")
    p = subprocess.run([exe, "--configfile", "config.yaml", "-n"], cwd=tmp_path / "run", env=env,
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr[-3000:]
    table = p.stdout.split("Job stats:", 1)[1].split("\n\n", 1)[0]
    counts = {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M)}
    assert counts["prepare"] == 1 and counts["scan"] == 2 and counts["train"] == 1 and counts["report"] == 1
