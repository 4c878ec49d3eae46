#!/usr/bin/env python3
"""The JSON Schema of shoal-chaos scenario files against the files (schema_test.sh runs it):
  check_schema.py SCHEMA SCENARIO.json...
Exits non-zero with a FAIL line unless the schema is a valid draft 2020-12 schema, every
scenario given validates, and deliberately bad documents are refused."""
import copy
import json
import sys

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

schema_path, scenarios = sys.argv[1], sys.argv[2:]
with open(schema_path, encoding="utf-8") as f:
    schema = json.load(f)
try:
    Draft202012Validator.check_schema(schema)
except SchemaError as e:
    sys.exit(f"FAIL: chaos.schema: {schema_path} is not a valid schema: {e.message}")
validator = Draft202012Validator(schema)

def first_error(doc):
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
    if not errors:
        return None
    e = errors[0]
    return "/".join(str(p) for p in e.absolute_path) + ": " + e.message

if not scenarios:
    sys.exit("FAIL: chaos.schema: no scenarios in chaos/scenarios")
for path in scenarios:
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    error = first_error(doc)
    if error:
        sys.exit(f"FAIL: chaos.schema: {path}: {error}")

good = {"name": "t", "topology": {"hosts": 4}, "duration_s": 60,
        "timeline": [{"at_s": 10, "fault": "crash", "hosts": "h2"}]}
if first_error(good):
    sys.exit(f"FAIL: chaos.schema: the base document is refused: {first_error(good)}")
bad = {}
bad["an unknown top-level key"] = dict(copy.deepcopy(good), extra=1)
bad["an unknown fault"] = copy.deepcopy(good)
bad["an unknown fault"]["timeline"][0]["fault"] = "meteor"
bad["backend ipsec"] = copy.deepcopy(good)
bad["backend ipsec"]["topology"]["backend"] = "ipsec"
bad["a loss with hosts and from"] = copy.deepcopy(good)
bad["a loss with hosts and from"]["timeline"][0] = {
    "at_s": 10, "fault": "loss", "percent": 5, "hosts": "h1", "from": "h1", "to": "h2"}
bad["a loss with from and no to"] = copy.deepcopy(good)
bad["a loss with from and no to"]["timeline"][0] = {
    "at_s": 10, "fault": "loss", "percent": 5, "from": "h1"}
for what, doc in bad.items():
    if first_error(doc) is None:
        sys.exit(f"FAIL: chaos.schema: a document with {what} is accepted")
print(f"chaos.schema: {len(scenarios)} scenarios valid, {len(bad)} bad documents refused")
