#!/usr/bin/env bash
# Install seqconv and its test tools into the current Python environment (use a virtual environment:
#   python3 -m venv .venv && . .venv/bin/activate && bash install.sh).
# torch is installed first so that pip never pulls the multi-GB CUDA build on a machine without a GPU:
#   * an NVIDIA GPU (nvidia-smi works): torch from PyPI (CUDA build);
#   * Linux without a GPU: the CPU build from PyPI's CPU wheel index (download.pytorch.org/whl/cpu);
#     a local CPU wheel torch==2.13.0 found by pip without any index (as on this project's offline
#     machines) is used first;
#   * macOS / Windows: PyPI's torch (CPU / MPS builds already).
# An existing torch is kept.  Usage: bash install.sh   (PYTHON=python3.12 bash install.sh for another Python)
# Last, the numba kernels are compiled and cached (python -m seqconv.scan.warmup; SEQCONV_NO_WARMUP=1 skips it).
set -euo pipefail
PY=${PYTHON:-python3}
if ! "$PY" -c "import torch" 2>/dev/null; then
    if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi >/dev/null 2>&1; then
        "$PY" -m pip install "torch>=2.2"
    elif [ "$(uname -s)" = "Linux" ]; then
        # a CPU wheel already on this machine (pip's find-links; --no-index: never the PyPI CUDA build) ...
        if "$PY" -m pip install -q --no-index --no-deps "torch==2.13.0" 2>/dev/null; then
            "$PY" -m pip install -q "torch==2.13.0"          # its dependencies; torch itself is in place
        else
            "$PY" -m pip install --timeout 30 "torch>=2.2" --index-url https://download.pytorch.org/whl/cpu
        fi
    else
        "$PY" -m pip install "torch>=2.2"
    fi
fi
"$PY" -m pip install -q -e ".[test]"
# Compile and cache the numba kernels now (~1 min on 2 cores), so the first `seqconv scan` does not
# wait for them; SEQCONV_NO_WARMUP=1 skips it (the first scan then compiles, and says so on stderr).
if [ -z "${SEQCONV_NO_WARMUP:-}" ]; then
    "$PY" -m seqconv.scan.warmup
fi
