"""The Snakemake workflow shipped in the package: its folder, and a copy of it to run in a folder of one's own.

The rules (``Snakefile``), their config schema, the small default config, a SLURM profile and the demo data
(the real yeast excerpt of the repository's ``data/yeast/``) are package data, so a wheel install has them::

    seqconv workflow init my_run        # or seqconv.workflow.init("my_run")
    cd my_run && snakemake --configfile config.yaml -c 2

From a clone, ``pipelines/Snakefile`` includes the same rules.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from seqconv.errors import InputError, InternalError

#: The packaged workflow folder.
WORKFLOW_DIR = Path(__file__).resolve().parent

#: What :func:`init` copies: ``(path in the package, path in the new folder)``.
FILES = (
    ("Snakefile", "Snakefile"),
    ("config.schema.yaml", "config.schema.yaml"),
    ("config.yaml", "config.yaml"),
    ("profiles/slurm/config.yaml", "profiles/slurm/config.yaml"),
)
#: Demo data, copied to ``data/yeast/`` where ``config.yaml`` expects it.
DEMO = tuple((f"demo/yeast/{name}", f"data/yeast/{name}") for name in (
    "sacCer3_chr1_3_6_7_8_9.fa.gz", "Reb1_CX.bed.gz", "Cbf1_CX.bed.gz", "rossi2021_exclude_regions.bed.gz"))
DEMO_NOTE = ("demo/PROVENANCE.md", "data/yeast/PROVENANCE.md")


def workflow_dir() -> Path:
    """The packaged workflow folder (its ``Snakefile`` can be run in place with ``snakemake -s``)."""
    return WORKFLOW_DIR


def init(dest, *, demo: bool = True, force: bool = False) -> list[Path]:
    """Copy the workflow (Snakefile, schema, default config, SLURM profile) and the demo data into ``dest``.

    Parameters
    ----------
    dest : str or Path
        Folder to create or fill; nothing in it is overwritten unless ``force``.
    demo : bool
        Also copy the demo data (real yeast genome excerpt and ChIP-exo peaks, 0.9 MB) to ``dest/data/yeast``,
        so ``config.yaml`` runs as it is.
    force : bool
        Overwrite files that exist (never a folder).

    Returns
    -------
    list of Path
        The files written.

    Raises
    ------
    InputError
        ``dest`` is a file, or a file to write exists (and not ``force``); nothing is written then.
    """
    dest = Path(dest)
    if dest.exists() and not dest.is_dir():
        raise InputError("exists and is not a folder", path=dest)
    pairs = list(FILES) + (list(DEMO) + [DEMO_NOTE] if demo else [])
    targets = [(WORKFLOW_DIR / src, dest / dst) for src, dst in pairs]
    missing = [str(s) for s, _ in targets if not s.is_file()]
    if missing:
        raise InternalError(f"the installed seqconv lacks its workflow files: {', '.join(missing)}")
    clash = [t for _, t in targets if t.exists() or t.is_symlink()]
    if clash and not force:
        raise InputError(f"{len(clash)} file(s) would be overwritten, e.g. {clash[0]}; use a new folder or "
                         "--force", path=dest)
    bad = [t for t in clash if t.is_dir()]
    if bad:
        raise InputError("is a folder where a workflow file goes", path=bad[0])
    written = []
    for src, dst in targets:
        dst.parent.mkdir(parents=True, exist_ok=True)
        tmp = dst.with_name(f".{dst.name}.seqconv-tmp")
        shutil.copyfile(src, tmp)
        tmp.replace(dst)
        written.append(dst)
    return written
