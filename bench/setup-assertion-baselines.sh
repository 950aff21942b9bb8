#!/usr/bin/env bash
# Creates bench/.venv-assertion: the separate environment bench/assertion.py and bench/pipeline_mtsamples.py
# run medspaCy in.
# Usage: bash bench/setup-assertion-baselines.sh        (from anywhere; idempotent)
# Needs only the package registry (PyPI); medspaCy's rules ship in the package, nothing is downloaded at
# run time.  Never installs into the product's .venv.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/.venv-assertion"
python="${PYTHON:-python3}"

if [[ ! -x "$venv/bin/python" ]]; then
    "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet -r "$here/requirements-assertion-baselines.txt"

# Smoke check, offline: ConText alone and the full medspaCy pipeline on invented sentences.
"$venv/bin/python" "$here/_medspacy_runner.py" check
echo "assertion baseline venv ready: $venv"
