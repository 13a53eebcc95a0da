#!/bin/sh
# Entrypoint of the CI mariadb image: honours the official mariadb image's variables
# (MARIADB_ROOT_PASSWORD, MARIADB_ALLOW_EMPTY_ROOT_PASSWORD, MARIADB_DATABASE, MARIADB_USER,
# MARIADB_PASSWORD, MARIADB_ROOT_HOST, and their MYSQL_* aliases) and, like it, runs
# `mariadbd` for arguments starting with '-'. The first start initialises the data directory
# through a server without networking, so a TCP connection succeeds only once it is ready.
set -eu

if [ "${1#-}" != "$1" ]; then
  set -- mariadbd "$@"
fi
case "$1" in
  mariadbd|mysqld) shift ;;
  *) exec "$@" ;;
esac

root_password="${MARIADB_ROOT_PASSWORD:-${MYSQL_ROOT_PASSWORD:-}}"
allow_empty="${MARIADB_ALLOW_EMPTY_ROOT_PASSWORD:-${MYSQL_ALLOW_EMPTY_PASSWORD:-}}"
database="${MARIADB_DATABASE:-${MYSQL_DATABASE:-}}"
app_user="${MARIADB_USER:-${MYSQL_USER:-}}"
app_password="${MARIADB_PASSWORD:-${MYSQL_PASSWORD:-}}"
root_host="${MARIADB_ROOT_HOST:-${MYSQL_ROOT_HOST:-%}}"
datadir=/var/lib/mysql
socket=/run/mysqld/init.sock

sql_string() { printf "'%s'" "$(printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e "s/'/''/g")"; }

if [ -z "$root_password" ] && [ -z "$allow_empty" ]; then
  echo "error: set MARIADB_ROOT_PASSWORD (or MARIADB_ALLOW_EMPTY_ROOT_PASSWORD=1)" >&2
  exit 1
fi

mkdir -p "$datadir" /run/mysqld
chown mysql:mysql "$datadir" /run/mysqld

if [ ! -d "$datadir/mysql" ]; then
  mariadb-install-db --user=mysql --datadir="$datadir" --skip-test-db \
    --auth-root-authentication-method=normal > /dev/null
  mariadbd --user=mysql --datadir="$datadir" --skip-networking --socket="$socket" \
    --innodb-flush-log-at-trx-commit=0 &
  for _ in $(seq 60); do
    mariadb-admin --socket="$socket" -uroot ping > /dev/null 2>&1 && break
    sleep 0.5
  done
  password="$(sql_string "$root_password")"
  {
    echo "SET sql_log_bin = 0;"
    echo "DELETE FROM mysql.global_priv WHERE Host <> 'localhost';"
    echo "DELETE FROM mysql.proxies_priv WHERE Host <> 'localhost';"
    echo "FLUSH PRIVILEGES;"
    echo "ALTER USER 'root'@'localhost' IDENTIFIED BY $password;"
    if [ "$root_host" != localhost ]; then
      echo "CREATE USER 'root'@$(sql_string "$root_host") IDENTIFIED BY $password;"
      echo "GRANT ALL ON *.* TO 'root'@$(sql_string "$root_host") WITH GRANT OPTION;"
    fi
    if [ -n "$database" ]; then
      echo "CREATE DATABASE IF NOT EXISTS \`$database\`;"
    fi
    if [ -n "$app_user" ]; then
      echo "CREATE USER $(sql_string "$app_user")@'%' IDENTIFIED BY $(sql_string "$app_password");"
      if [ -n "$database" ]; then
        echo "GRANT ALL ON \`$database\`.* TO $(sql_string "$app_user")@'%';"
      fi
    fi
  } | mariadb --socket="$socket" -uroot
  MYSQL_PWD="$root_password" mariadb-admin --socket="$socket" -uroot shutdown
  wait
fi

exec mariadbd --user=mysql --datadir="$datadir" "$@"
