#!/usr/bin/env bash
# Circle-packing evaluator: run the candidate, then judge what it returned, in Rust, at zero
# tolerance. Shared by circle-packing and circle-packing-32 (CIRCLES comes from suite.toml).
# run_candidate.py runs the candidate confined and writes packing.json only once all of the
# candidate's processes are gone, so the judge's results file is the only one there is.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
python3 "$here/run_candidate.py" "$ASI_EVOLVE_CANDIDATE" packing.json
exec "$ASI_EVOLVE_BIN" validate-packing --n "$CIRCLES" packing.json --results "$ASI_EVOLVE_RESULTS"
