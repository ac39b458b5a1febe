#!/usr/bin/env bash
# One database and two login roles per service: <service>_owner owns the
# database and its tables and runs the migrations; <service>, the role the
# service runs as, may only connect (the migration grants it its rows and the
# audit trail to read and append to: rescue_chassis.migrations). Databases are
# closed to everyone else; pgvector in the search database.
#
# Run by the postgres image from /docker-entrypoint-initdb.d, once, on an empty
# data directory (as the superuser, over the local socket). Passwords come from
# <SERVICE>_DB_PASSWORD and <SERVICE>_OWNER_DB_PASSWORD in the container's
# environment (docker-compose.override.yml), or in production from the services'
# database URLs mounted in /run/secrets (docker-compose.prod.yml); they are passed as psql variables, never
# interpolated into SQL by the shell. Safe to run again by hand: every step checks
# before it creates, and a database from before the owner roles is handed over
# (REASSIGN OWNED: the service's role then owns nothing).
set -euo pipefail

services=(intake search transfer referral followup summary)

# The password in a database URL file: postgresql+asyncpg://<role>:<password>@host/db
url_password() {
  local url
  url="$(<"$1")"
  url="${url#*://*:}"
  printf '%s' "${url%%@*}"
}

for svc in "${services[@]}"; do
  var="${svc^^}_DB_PASSWORD"
  owner_var="${svc^^}_OWNER_DB_PASSWORD"
  # production (docker-compose.prod.yml): no variables; the passwords are the ones in
  # the services' database URLs, mounted as secrets (one source, no second copy)
  if [[ -z "${!var:-}" && -r "/run/secrets/${svc}_database_url" ]]; then
    printf -v "${var}" '%s' "$(url_password "/run/secrets/${svc}_database_url")"
  fi
  if [[ -z "${!owner_var:-}" && -r "/run/secrets/${svc}_owner_database_url" ]]; then
    printf -v "${owner_var}" '%s' "$(url_password "/run/secrets/${svc}_owner_database_url")"
  fi
  password="${!var:-}"
  owner_password="${!owner_var:-}"
  for name in "${var}" "${owner_var}"; do
    if [[ -z "${!name:-}" ]]; then
      echo "postgres-init: ${name} is not set (nor its database URL in /run/secrets)" >&2
      exit 1
    fi
  done

  psql -v ON_ERROR_STOP=1 --quiet --no-psqlrc --username "${POSTGRES_USER:-postgres}" --dbname postgres \
       --set=svc="${svc}" --set=owner="${svc}_owner" \
       --set=password="${password}" --set=owner_password="${owner_password}" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN', :'owner')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'owner') \gexec
ALTER ROLE :"owner" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'owner_password';
SELECT format('CREATE ROLE %I LOGIN', :'svc')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'svc') \gexec
ALTER ROLE :"svc" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'password';
SELECT format('CREATE DATABASE %I OWNER %I', :'svc', :'owner')
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'svc') \gexec
ALTER DATABASE :"svc" OWNER TO :"owner";
REVOKE ALL ON DATABASE :"svc" FROM PUBLIC;
GRANT ALL ON DATABASE :"svc" TO :"owner";
REVOKE ALL ON DATABASE :"svc" FROM :"svc";
GRANT CONNECT ON DATABASE :"svc" TO :"svc";
SQL

  # Tables the service's role made before the split become the owner's.
  psql -v ON_ERROR_STOP=1 --quiet --no-psqlrc --username "${POSTGRES_USER:-postgres}" --dbname "${svc}" \
       --set=svc="${svc}" --set=owner="${svc}_owner" <<'SQL'
REASSIGN OWNED BY :"svc" TO :"owner";
SQL
  echo "postgres-init: database ${svc}, roles ${svc}_owner and ${svc} ready"
done

# pgvector needs a superuser to create; search's owner then owns its tables.
psql -v ON_ERROR_STOP=1 --quiet --no-psqlrc --username "${POSTGRES_USER:-postgres}" --dbname search <<'SQL'
CREATE EXTENSION IF NOT EXISTS vector;
SQL
echo "postgres-init: extension vector ready in search"
