#!/usr/bin/env bash
# Make sure the local PostgreSQL and MariaDB answer on 127.0.0.1; start them when they do not.
set -euo pipefail

answers() { python3 - "$1" <<'PY'
import socket, sys
s = socket.socket(); s.settimeout(1)
sys.exit(s.connect_ex(("127.0.0.1", int(sys.argv[1]))))
PY
}

wait_for() {  # port name
  for _ in $(seq 60); do answers "$1" && return 0; sleep 1; done
  echo "ensure-servers: $2 does not answer on 127.0.0.1:$1 after 60 s" >&2; return 1
}

if ! answers 5432; then
  echo "ensure-servers: starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start
fi
if ! answers 3306; then
  echo "ensure-servers: starting MariaDB"
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
fi
wait_for 5432 PostgreSQL
wait_for 3306 MariaDB
