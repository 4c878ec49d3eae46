#!/usr/bin/env python3
"""A shoal-chaos HTML report against its JSON twin:
  check_report_html.py report.html report.json
Passes when the page is well-formed XML, names every check and fault, and its SVG timeline
holds a band per fault, a curve per measure (members, owner map, and pods when they were
probed) and, up to 64 hosts, a row per host."""
import json
import sys
import xml.etree.ElementTree as ET

html_path, json_path = sys.argv[1], sys.argv[2]
tree = ET.parse(html_path)  # raises on anything not well-formed
report = json.load(open(json_path))
text = "".join(tree.getroot().itertext())  # unescaped: a fault's "&" is "&" here


def local(element):
    return element.tag.rsplit("}", 1)[-1]


svgs = [e for e in tree.iter() if local(e) == "svg"]
assert svgs, "no SVG timeline"
svg = svgs[0]
bands = [e for e in svg.iter() if local(e) == "rect" and e.get("class") == "fault"]
assert len(bands) == len(report["faults"]), "a fault band per fault"
probed = any(s.get("pods_reach", -1) >= 0 for s in report["samples"])
curves = [e for e in svg.iter() if local(e) == "polyline"]
assert len(curves) == (3 if probed else 2), "%d curves, pods probed: %s" % (len(curves), probed)
labels = {e.text for e in svg.iter() if local(e) == "text"}
rows = report["hosts"] if report["hosts"] <= 64 else 0
missing = [h for h in range(1, rows + 1) if "h%d" % h not in labels]
assert not missing, "no row for hosts %s" % missing
for check in report["checks"]:
    assert check["check"] in text, "check %s not named" % check["check"]
for fault in report["faults"]:
    assert fault["what"] in text, "fault %s not named" % fault["what"]
print("ok: %s parses; %d checks, %d fault bands, %d curves, %d host rows"
      % (html_path, len(report["checks"]), len(bands), len(curves), rows))
