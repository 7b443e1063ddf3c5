#!/usr/bin/env bash
# Fails if any core file (gateway/) includes a front-end library's header.
set -u
root="$1"
bad=$(grep -rnE '#include\s*[<"](libmilter/|Poco/Net/|Poco/Data/|sqlite3\.h|libpq-fe\.h|policy/|milter/|adapters/|cli/)' \
      "$root/gateway" || true)
if [[ -n "$bad" ]]; then
  echo "layering violation: the core (gateway/) must not include front-end headers:"
  echo "$bad"
  exit 1
fi
echo "layering OK"
