"""Write the README's sample output from a real run of the main job.

    python docs/sample_output.py

Runs ``pytest --aide-perf scenarios`` (the README's main job) 200 columns wide
and puts its summary, verbatim, between the ``<!-- sample-output -->`` markers
of ``README.md`` and ``docs/getting-started.md``, with the date, the commit and
the machine it ran on. ``tests/test_docs.py`` checks that the block's table
still has the columns the summary prints and the bundled scenarios' names.
"""

from __future__ import annotations

import datetime
import os
import platform
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
START, END = "<!-- sample-output -->", "<!-- /sample-output -->"
PAGES = (ROOT / "README.md", ROOT / "docs" / "getting-started.md")


def summary(output: str) -> str:
    """The aide summary of a pytest run's output: from its header to the reports line."""
    lines = output.splitlines()
    first = next(i for i, line in enumerate(lines) if "aide performance summary" in line)
    last = next(i for i in range(first, len(lines)) if lines[i].startswith("reports:"))
    return "\n".join(lines[first : last + 1])


def block(text: str) -> str:
    """The sample output as it stands between a page's markers (its fenced text only)."""
    inside = text[text.index(START) + len(START) : text.index(END)]
    fenced = re.search(r"```text\n(.*?)```", inside, re.S)
    return fenced.group(1) if fenced else ""


def main() -> None:
    """Run the main job and write its summary into the pages."""
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    command = [sys.executable, "-m", "pytest", "--aide-perf", "scenarios", "-p", "no:randomly"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=env, check=False)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    cores = os.cpu_count()
    when = datetime.date.today().isoformat()
    caption = (
        f"(`pytest --aide-perf scenarios` at {commit}, {when}, on a {cores}-core "
        f"{platform.system()} machine, 200 columns wide; written by `docs/sample_output.py`. "
        "Your figures will differ.)"
    )
    new = f"{START}\n```text\n$ pytest --aide-perf scenarios\n...\n{summary(done.stdout)}\n```\n\n"
    new += f"{caption}\n{END}"
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        start, end = text.index(START), text.index(END) + len(END)
        page.write_text(text[:start] + new + text[end:], encoding="utf-8")
        print(f"wrote {page.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
