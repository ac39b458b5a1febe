#!/usr/bin/env bash
# One database and one login role per service, each database owned by its role
# and closed to everyone else; pgvector in the search database.
#
# Run by the postgres image from /docker-entrypoint-initdb.d, once, on an empty
# data directory (as the superuser, over the local socket). Passwords come from
# <SERVICE>_DB_PASSWORD in the container's environment (see docker-compose.yml);
# they are passed as psql variables, never interpolated into SQL by the shell.
# Safe to run again by hand: every step checks before it creates.
set -euo pipefail

services=(intake search transfer referral followup summary)

for svc in "${services[@]}"; do
  var="${svc^^}_DB_PASSWORD"
  password="${!var:-}"
  if [[ -z "${password}" ]]; then
    echo "postgres-init: ${var} is not set" >&2
    exit 1
  fi

  psql -v ON_ERROR_STOP=1 --quiet --no-psqlrc --username "${POSTGRES_USER:-postgres}" --dbname postgres \
       --set=svc="${svc}" --set=password="${password}" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN', :'svc')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'svc') \gexec
ALTER ROLE :"svc" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'password';
SELECT format('CREATE DATABASE %I OWNER %I', :'svc', :'svc')
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'svc') \gexec
REVOKE ALL ON DATABASE :"svc" FROM PUBLIC;
GRANT ALL ON DATABASE :"svc" TO :"svc";
SQL
  echo "postgres-init: database and role ${svc} ready"
done

# pgvector needs a superuser to create; the search role then owns its tables.
psql -v ON_ERROR_STOP=1 --quiet --no-psqlrc --username "${POSTGRES_USER:-postgres}" --dbname search <<'SQL'
CREATE EXTENSION IF NOT EXISTS vector;
SQL
echo "postgres-init: extension vector ready in search"
