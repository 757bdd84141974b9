#!/usr/bin/env bash
# Install seqconv and its test tools into the current Python environment.
# On a machine without an NVIDIA GPU, the CPU build of torch is installed first, so that
# pip never pulls the multi-GB CUDA build.  Usage: bash install.sh
set -euo pipefail
PY=${PYTHON:-python3}
if ! "$PY" -c "import torch" 2>/dev/null; then
    if command -v nvidia-smi >/dev/null 2>&1; then
        "$PY" -m pip install "torch>=2.2"
    else
        # 2.13.0 is the CPU build available on this project's machines; elsewhere use
        # PyTorch's CPU wheel index (pip install torch --index-url <cpu index>).
        "$PY" -m pip install "torch==2.13.0"
    fi
fi
"$PY" -m pip install -q -e ".[test]"
