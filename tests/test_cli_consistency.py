"""One vocabulary across every ``seqconv`` command (issue 14, item 6), checked by walking the click tree.

The rules: the motif collection is ``--motifs``, the strand choice ``--strand``, a score cut-off
``--threshold``; every command that writes has ``-o/--out``; ``--device`` defaults to None (the CPU) and
says so; ``--threads`` has help; every command's ``--help`` has an Example block; every option has help
text.  Old spellings that shipped stay accepted as hidden aliases (checked below on real runs).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import click
import pandas as pd
import pytest
from click.testing import CliRunner

from seqconv.cli import main
from seqconv.cli._common import AliasOption, ConfigOption

ROOT = Path(__file__).resolve().parents[1]
FASTA = ROOT / "data" / "example_oct4_mafk_test.fa"

#: Old spellings: never visible, and (where they shipped) still accepted as hidden aliases.
FORBIDDEN = {"--strands": "--strand", "--db": "--motifs", "--thresh": "--threshold"}
#: Commands that write only to standard output (no file or folder of their own).
STDOUT_ONLY = {"describe", "models", "workflow"}
#: Options exempt from "has help text": click's own --help (documented by click itself).
NO_HELP_OK = {"help"}


def _commands():
    """Every command, and each subcommand of a group as "group sub"."""
    out = []
    for name, cmd in sorted(main.commands.items()):
        out.append((name, cmd))
        if isinstance(cmd, click.Group):
            out += [(f"{name} {sub}", c) for sub, c in sorted(cmd.commands.items())]
    return out


def _options(cmd: click.Command):
    return [p for p in cmd.params if isinstance(p, click.Option) and not p.hidden]


def _visible(opt: click.Option) -> list[str]:
    return opt.visible_opts if isinstance(opt, AliasOption) else opt.opts + opt.secondary_opts


def _default(cmd, opt):
    with click.Context(cmd, info_name=cmd.name) as ctx:
        return opt.get_default(ctx)


def test_the_walk_sees_every_command():
    names = {name for name, _ in _commands()}
    assert {"prepare", "train", "finetune", "predict", "evaluate", "describe", "models", "scan", "motifs",
            "report", "merge-tracks"} <= names


@pytest.mark.parametrize("name,cmd", _commands())
def test_no_old_spelling_is_visible(name, cmd):
    shown = cmd.get_help(click.Context(cmd, info_name=name))
    for opt in _options(cmd):
        bad = set(_visible(opt)) & set(FORBIDDEN)
        assert not bad, f"seqconv {name}: {sorted(bad)} should be {[FORBIDDEN[b] for b in bad]}"
    for old in FORBIDDEN:
        assert f"{old} " not in shown and f"{old}\n" not in shown, f"seqconv {name} --help shows {old}"


@pytest.mark.parametrize("name,cmd", [(n, c) for n, c in _commands() if n not in STDOUT_ONLY])
def test_every_writing_command_has_o_out(name, cmd):
    outs = [o for o in _options(cmd) if "--out" in _visible(o)]
    assert outs, f"seqconv {name} writes but has no --out"
    assert "-o" in _visible(outs[0]), f"seqconv {name}: --out has no -o"


@pytest.mark.parametrize("name,cmd", _commands())
def test_device_defaults_to_none_with_help(name, cmd):
    for opt in _options(cmd):
        if "--device" in _visible(opt):
            assert _default(cmd, opt) is None, f"seqconv {name} --device defaults to {_default(cmd, opt)!r}"
            assert opt.help and "cpu" in opt.help.lower(), f"seqconv {name} --device help must name the default"


@pytest.mark.parametrize("name,cmd", _commands())
def test_every_option_has_help_and_threads_says_its_default(name, cmd):
    for opt in _options(cmd):
        if opt.name in NO_HELP_OK:
            continue
        assert opt.help and opt.help.strip(), f"seqconv {name} {_visible(opt)[0]} has no help text"
        if "--threads" in _visible(opt):
            assert "default" in opt.help, f"seqconv {name} --threads help must state the default"


@pytest.mark.parametrize("name,cmd", _commands())
def test_every_help_has_an_example(name, cmd):
    res = CliRunner().invoke(main, [*name.split(), "--help"])
    assert res.exit_code == 0, res.output
    assert "Example" in res.output, f"seqconv {name} --help has no Example block"
    example = res.output.split("Example", 1)[1]
    assert f"seqconv {name}" in example, f"seqconv {name}: the Example block does not run seqconv {name}"


def test_predict_and_scan_take_the_fasta_both_ways():
    for name in ("predict", "scan"):
        cmd = main.commands[name]
        assert any(isinstance(p, click.Argument) for p in cmd.params), f"{name} takes no positional FASTA"
        assert any("--fasta" in _visible(o) for o in _options(cmd)), f"{name} has no --fasta"


def test_scan_defaults_are_scanoptions():
    from seqconv.scan import ScanOptions

    fields = {f.name: f.default for f in dataclasses.fields(ScanOptions)}
    cmd = main.commands["scan"]
    checked = 0
    for opt in cmd.params:
        if isinstance(opt, ConfigOption):
            field = opt.config.rsplit(".", 1)[1]
            assert _default(cmd, opt) == fields[field], (opt.name, field)
            checked += 1
    assert checked >= 6


def test_train_and_finetune_defaults_are_their_configs():
    from seqconv.train import TrainConfig
    from seqconv.transfer import TransferConfig

    train, transfer = TrainConfig(), TransferConfig()
    for name in ("train", "finetune"):
        cmd = main.commands[name]
        params = {p.name: p for p in cmd.params}
        for field in ("epochs", "batch_size", "lr", "weight_decay", "patience", "max_shift", "seed"):
            assert params[field].default == getattr(train, field), (name, field)
    params = {p.name: p for p in main.commands["finetune"].params}
    for field in ("mode", "head", "hidden", "head_epochs", "backbone_lr", "adapt_weight", "source_max"):
        assert params[field].default == getattr(transfer, field), field


# ------------------------------------------------------------------ old command lines still run


def test_scan_old_and_new_spellings_give_the_same_hits(tmp_path):
    runner = CliRunner()
    new = tmp_path / "new.tsv"
    old = tmp_path / "old.tsv"
    pos = tmp_path / "pos.tsv"
    r1 = runner.invoke(main, ["scan", "--motifs", "jaspar", "--fasta", str(FASTA), "--threshold", "1e-5",
                              "--strand", "+", "-o", str(new), "-q"])
    r2 = runner.invoke(main, ["scan", "--motifs", "jaspar", "--fasta", str(FASTA), "--thresh", "1e-5",
                              "--strands", "+", "--out", str(old), "-q"])
    r3 = runner.invoke(main, ["scan", "--motifs", "jaspar", str(FASTA), "--threshold", "1e-5", "--strand", "+",
                              "-o", str(pos), "-q"])
    for r in (r1, r2, r3):
        assert r.exit_code == 0, r.output
    a, b, c = (pd.read_csv(p, sep="\t") for p in (new, old, pos))
    assert len(a) > 0 and set(a["strand"]) == {"+"}
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(a, c)
    # a looser threshold finds more: the value reached the scan under either name
    looser = tmp_path / "looser.tsv"
    r4 = runner.invoke(main, ["scan", "--motifs", "jaspar", str(FASTA), "--thresh", "1e-4", "--strands", "+",
                              "-o", str(looser), "-q"])
    assert r4.exit_code == 0, r4.output
    assert len(pd.read_csv(looser, sep="\t")) > len(a)


def test_fasta_given_twice_is_a_usage_error():
    res = CliRunner().invoke(main, ["scan", "--motifs", "jaspar", str(FASTA), "--fasta", str(FASTA)])
    assert res.exit_code == 2
    assert "once" in res.output


def test_predict_positional_and_fasta_option_agree(tmp_path):
    runner = CliRunner()
    a, b = tmp_path / "a.tsv", tmp_path / "b.tsv"
    r1 = runner.invoke(main, ["predict", "--model", "oct4_mafk", str(FASTA), "-o", str(a), "-q"])
    r2 = runner.invoke(main, ["predict", "--model", "oct4_mafk", "--fasta", str(FASTA), "--out", str(b), "-q"])
    assert r1.exit_code == 0, r1.output
    assert r2.exit_code == 0, r2.output
    ta, tb = pd.read_csv(a, sep="\t"), pd.read_csv(b, sep="\t")
    assert len(ta) > 0
    pd.testing.assert_frame_equal(ta, tb)


def test_report_db_alias_reaches_the_same_parameter():
    cmd = main.commands["report"]
    with click.Context(cmd, info_name="report") as ctx:
        old = cmd.make_parser(ctx).parse_args(["--db", "mydb", "--out", "x.html"])[0]
    with click.Context(cmd, info_name="report") as ctx:
        new = cmd.make_parser(ctx).parse_args(["--motif-db", "mydb", "--out", "x.html"])[0]
    assert old["db"] == new["db"] == "mydb"
