#!/usr/bin/env bash
# The main job: install, run the conformance corpus (conformance/) on the embedded SQLite default,
# print each sample's matrix and findings, and check them against the sample's expectations.
# DBMATRIX_BACKENDS=sqlite,postgresql,... (with DBMATRIX_<NAME>_URL) runs it on servers too.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m pip install -q --disable-pip-version-check -e '.[test]'
out="build/conformance"
mkdir -p "$out"
status=0

run_sample() {  # name, pytest arguments...
  local name=$1; shift
  echo
  echo "################ conformance sample: $name ################"
  # The samples are defective on purpose: their generated tests fail; check.py judges the run.
  (cd conformance && python3 -m pytest -p no:cacheprovider -q \
      --dbmatrix-report="../$out/$name.json" "$@") || true
  python3 conformance/check.py "conformance/$name" "$out/$name.json" || status=1
}

for app in shop byodb rich_types; do
  run_sample "$app" --dbmatrix-conformance --dbmatrix-metadata="$app.models:Base"
done
run_sample alembic_bad --dbmatrix-alembic-ini=alembic_bad/alembic.ini
run_sample async_drivers async_drivers/driver_hazards.py --dbmatrix=sqlite+aiosqlite \
    --dbmatrix-metadata=async_drivers.models:Base

echo
if [ "$status" -eq 0 ]; then
  echo "conformance corpus: every sample reported exactly its expected findings"
else
  echo "conformance corpus: findings differ from the expectations (see above)" >&2
fi
exit "$status"
