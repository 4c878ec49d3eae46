#!/usr/bin/env bash
# The JSON Schema of shoal-chaos scenario files (chaos/scenario.schema.json) against the files:
#   schema_test.sh SOURCE_DIR
# Passes when the schema is a valid draft 2020-12 schema, every shipped scenario
# (chaos/scenarios/*.json; workloads/ holds no scenarios) validates, and deliberately bad
# documents are refused. Needs python3 with jsonschema.
set -euo pipefail
src=${1:?usage: schema_test.sh SOURCE_DIR}
if ! python3 -c 'import jsonschema' 2>/dev/null; then
  echo "SKIP: chaos.schema: python3-jsonschema is not installed (scripts/setup installs it)"
  exit 77
fi
# The shipped scenarios, and the planted ones of the harness's own tests.
python3 "$(dirname "${BASH_SOURCE[0]}")/check_schema.py" "$src/chaos/scenario.schema.json" \
  "$src"/chaos/scenarios/*.json "$src"/tests/chaos/planted/*.json "$src"/tests/chaos/planted/netns/*.json
