"""Motifs: the :class:`Motif` type (``(L, 4)`` matrices, columns A, C, G, T) and motif files.

>>> from seqconv.motifs import jaspar_collection
>>> motifs = jaspar_collection()          # JASPAR 2024 CORE vertebrates, offline
>>> ctcf = next(m for m in motifs if m.name == "CTCF")
>>> ctcf.log_odds(pseudocount=0.1).shape  # (L, 4) bits
(15, 4)
"""

from seqconv.motifs.core import DEFAULT_N_SITES, Motif, as_motif_list, check_background
from seqconv.motifs.io import (
    COLLECTION_NAMES,
    jaspar_collection,
    read_jaspar,
    read_meme,
    read_motifs,
    write_jaspar,
    write_meme,
)

__all__ = [
    "Motif", "DEFAULT_N_SITES", "as_motif_list", "check_background",
    "read_meme", "write_meme", "read_jaspar", "write_jaspar", "read_motifs",
    "jaspar_collection", "COLLECTION_NAMES",
]
