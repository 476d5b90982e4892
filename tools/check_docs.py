#!/usr/bin/env python3
"""`make docs`: fails unless Doxygen documented every function the header
declares (tools/api-functions.sh): each has a description in the XML and an
entry on the header's HTML page. Doxygen puts a file's functions on no page
unless the file itself is documented (the header's @file comment), so the HTML
is checked as well as the XML.

usage: check_docs.py HEADER DOCDIR
"""
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET


def main():
    header, docdir = sys.argv[1], sys.argv[2]
    here = os.path.dirname(os.path.abspath(__file__))
    funcs = subprocess.run([os.path.join(here, "api-functions.sh"), header], check=True,
                           capture_output=True, text=True).stdout.split()
    stem = os.path.basename(header).replace(".", "_8")
    described = {}
    for m in ET.parse(os.path.join(docdir, "xml", stem + ".xml")).iter("memberdef"):
        if m.get("kind") == "function":
            text = "".join(m.find("briefdescription").itertext()) + "".join(
                m.find("detaileddescription").itertext())
            described[m.find("name").text] = bool(text.strip())
    html_path = os.path.join(docdir, "html", stem + ".html")
    html = open(html_path).read() if os.path.exists(html_path) else ""
    bad = []
    if not html:
        bad.append(f"no HTML page for {header} (does it still have its @file comment?)")
    for f in funcs:
        if not described.get(f):
            bad.append(f"{f}: no description in Doxygen's output")
        elif html and not re.search(r">" + re.escape(f) + r"</a>", html):
            bad.append(f"{f}: not on {html_path}")
    for b in bad:
        print("FAIL: make docs:", b)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
