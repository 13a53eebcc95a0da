#!/usr/bin/env bash
# Set up and run the test suite with SQLite, PostgreSQL, MySQL (dialect, on MariaDB) and MariaDB
# required: a backend that cannot be reached fails the run instead of skipping.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m pip install -q --disable-pip-version-check -e '.[test]'
if ! command -v chromium >/dev/null && [ "$(id -u)" = 0 ]; then  # HTML report browser tests
  (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) \
    || echo "test.sh: could not install chromium" >&2
fi
bash scripts/ensure-servers.sh

export DBMATRIX_POSTGRESQL_URL="${DBMATRIX_POSTGRESQL_URL:-postgresql+psycopg2://postgres@127.0.0.1:5432/test}"
export DBMATRIX_MYSQL_URL="${DBMATRIX_MYSQL_URL:-mysql+pymysql://root@127.0.0.1:3306/test}"
export DBMATRIX_MARIADB_URL="${DBMATRIX_MARIADB_URL:-mariadb+pymysql://root@127.0.0.1:3306/test}"

set +e
python3 -m pytest --dbmatrix=sqlite,postgresql,mysql,mariadb --dbmatrix-strict -n 2 "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
  echo "test.sh: pytest collected no tests; that is a failure" >&2
  exit 1
fi
exit "$rc"
