#!/bin/sh
# Production compose (docker-compose.prod.yml): the services read their settings from
# the environment only, and the secrets are files (compose secrets in /run/secrets).
# For each variable <NAME>_FILE naming a file in /run/secrets (SECRET_FILES_DIR), set
# <NAME> to the file's content (a trailing newline dropped) and unset <NAME>_FILE; then
# run the command given. Other *_FILE variables (an image's own) are left alone.
# A file missing, unreadable or empty stops the start (exit 2, as a wrong setting),
# naming the variable, never a value.
set -eu
dir="${SECRET_FILES_DIR:-/run/secrets}"

for name in $(env | sed -n 's/^\([A-Za-z_][A-Za-z0-9_]*\)_FILE=.*/\1/p'); do
  eval "file=\${${name}_FILE}"
  case "$file" in "$dir"/*) ;; *) continue ;; esac
  if [ ! -r "$file" ] || [ ! -s "$file" ]; then
    echo "secret-files: ${name}_FILE names ${file}, which is missing, unreadable or empty" >&2
    exit 2
  fi
  value=$(cat "$file")
  export "$name=$value"
  unset "${name}_FILE"
done

exec "$@"
