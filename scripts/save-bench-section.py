#!/usr/bin/env python3
"""Writes a benchmark section into BENCHMARKS.md, for the bench scripts' --save.

Usage: save-bench-section.py FILE HEADING < SECTION
SECTION (standard input) starts with its own "## HEADING ..." line. The existing section
whose heading starts with "## HEADING" is replaced up to the next "## " heading; without one
the section is appended.
"""
import re
import sys

path, heading = sys.argv[1], sys.argv[2]
section = sys.stdin.read().rstrip("\n") + "\n"
text = open(path).read()
m = re.search(r"^## " + re.escape(heading) + r".*?(?=^## |\Z)", text, flags=re.S | re.M)
if m:
    text = text[:m.start()] + section + ("\n" if m.end() < len(text) else "") + text[m.end():]
else:
    text = text.rstrip("\n") + "\n\n" + section
open(path, "w").write(text)
