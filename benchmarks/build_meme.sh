#!/usr/bin/env bash
# Build the MEME suite 5.5.8 (only `fimo` and `tomtom` are needed) from source into a folder outside the repo.
#
# Usage:  benchmarks/build_meme.sh SRC_GIT_DIR_OR_TREE [PREFIX]
#   SRC_GIT_DIR_OR_TREE  a bare git dir of a copy of the 5.5.8 release (e.g. a clone of github.com/stanfish06/meme)
#                        or an already extracted source tree
#   PREFIX               install folder (default: ../meme-build, relative to the repository root)
# Needs: gcc, make, libxml2-dev, libxslt1-dev, zlib1g-dev (apt-get install -y gcc make libxml2-dev libxslt1-dev zlib1g-dev).
# Afterwards: export SEQCONV_FIMO=PREFIX/bin/fimo SEQCONV_TOMTOM=PREFIX/bin/tomtom
# Nothing from MEME is written inside the repository.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
src_in="${1:?usage: build_meme.sh SRC_GIT_DIR_OR_TREE [PREFIX]}"
prefix="$(realpath -m "${2:-$here/../meme-build}")"
work="$(realpath -m "$prefix/../meme-src")"
case "$prefix" in "$here"/*) echo "refusing to install inside the repository: $prefix" >&2; exit 2;; esac
if [ -f "$src_in/configure" ]; then
    work="$(realpath "$src_in")"
else
    rm -rf "$work"; mkdir -p "$work"
    # a mirror may lack a few large blobs (example data): archive the rest, leave empty placeholders for those
    missing=()
    while read -r _m _t obj path; do
        git --git-dir="$src_in" cat-file -e "$obj" 2>/dev/null || missing+=("$path")
    done < <(git --git-dir="$src_in" ls-tree -r HEAD)
    excl=(); for p in "${missing[@]}"; do excl+=(":(exclude)$p"); done
    git --git-dir="$src_in" archive HEAD -- . "${excl[@]}" | tar -x -C "$work"
    for p in "${missing[@]}"; do mkdir -p "$work/$(dirname "$p")"; : > "$work/$p"; echo "placeholder: $p" >&2; done
fi
grep -q 'AC_INIT(\[meme\],\[5.5.8\])' "$work/configure.ac" || { echo "not a MEME 5.5.8 source tree: $work" >&2; exit 2; }
cd "$work"
chmod +x configure config/* scripts/* 2>/dev/null || true
./configure --prefix="$prefix" --disable-shared \
    >"$work/configure.log" 2>&1 || { tail -30 "$work/configure.log"; exit 1; }
# Only the two programs the benchmark needs (the full `make` also wants perl/python extras).
make -C src dir.h projrel.h citation.js.h >"$work/make.log" 2>&1 && make -C src -j"${JOBS:-2}" fimo tomtom >>"$work/make.log" 2>&1 || { tail -40 "$work/make.log"; exit 1; }
mkdir -p "$prefix/bin"
cp src/fimo src/tomtom "$prefix/bin/"
"$prefix/bin/fimo" --version
echo "built: $prefix/bin/fimo $prefix/bin/tomtom"
