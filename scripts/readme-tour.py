#!/usr/bin/env python3
"""Keep README.md's tour true: re-run the commands it shows, put their real
output under them, and copy the figures it embeds into docs/img/.

The tour's examples are fenced blocks (no language tag) between "## A tour"
and the next "## " heading whose lines starting with "$ " are commands; the
lines after each command are its output. This script runs each command with
bash from the repository root, with BUILD_DIR first on PATH (so `servesim`
is the binary just built), and rewrites the block from what they print.
Outputs go under out/ (ignored by git; each -o directory there is emptied
first, as a search would resume from it). Wall times in the outputs change
from run to run; use a Release build.

    python3 scripts/readme-tour.py build-rel           # rewrite README.md
    python3 scripts/readme-tour.py build-rel --check   # exit 1 if stale
"""
import argparse
import difflib
import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Figures the README embeds: written by the tour's `servesim plot` commands.
FIGURES = {
    "out/quickstart/plots/latency-cdf.png": "docs/img/quickstart-latency-cdf.png",
    "out/quickstart/plots/timeseries.png": "docs/img/quickstart-timeseries.png",
}


def tour_blocks(lines):
    """(first, last) line indexes of each command block's body in the tour."""
    blocks, in_tour, start, tagged = [], False, None, False
    for i, line in enumerate(lines):
        fence = line.startswith("```")
        if start is None and not tagged and line.startswith("## "):
            in_tour = line.strip() == "## A tour"
        if not in_tour or not fence:
            continue
        if tagged:  # the end of a block with a language tag (YAML, sh)
            tagged = False
        elif start is not None:
            if start < i and lines[start].startswith("$ "):
                blocks.append((start, i))
            start = None
        elif line.rstrip("\n") == "```":
            start = i + 1
        else:
            tagged = True
    return blocks


def run(command, path_dir):
    # A plan or capacity search resumes from its directory's log: start
    # every command that writes under out/ from an empty directory.
    words = command.split()
    for i, w in enumerate(words[:-1]):
        if w == "-o" and words[i + 1].startswith("out/"):
            shutil.rmtree(os.path.join(ROOT, words[i + 1]), ignore_errors=True)
    env = dict(os.environ, PATH=path_dir + os.pathsep + os.environ.get("PATH", ""))
    env.pop("COLUMNS", None)
    done = subprocess.run(["bash", "-c", command], cwd=ROOT, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          stdin=subprocess.DEVNULL, text=True)
    if done.returncode != 0:
        sys.exit("readme-tour: '%s' exited %d:\n%s" % (command, done.returncode, done.stdout))
    return done.stdout


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("build_dir", help="directory holding the servesim binary")
    ap.add_argument("--check", action="store_true",
                    help="only compare; exit 1 if a block is stale")
    args = ap.parse_args()
    build = os.path.abspath(args.build_dir)
    if not os.access(os.path.join(build, "servesim"), os.X_OK):
        sys.exit("readme-tour: no servesim binary in %s" % build)
    readme = os.path.join(ROOT, "README.md")
    with open(readme) as f:
        lines = f.readlines()
    out = list(lines)
    stale = 0
    # Run the blocks in order (a later one may use an earlier one's outputs),
    # then splice the last first, so earlier indexes stay valid.
    bodies = []
    for first, last in tour_blocks(lines):
        body = []
        for line in lines[first:last]:
            if line.startswith("$ "):
                body.append(line)
                text = run(line[2:].strip(), build)
                body.extend(l + "\n" for l in text.rstrip("\n").split("\n") if text.strip())
        if body != lines[first:last]:
            stale += 1
            sys.stdout.writelines(difflib.unified_diff(lines[first:last], body, "README.md",
                                                       "README.md (now)", n=0))
        bodies.append((first, last, body))
    for first, last, body in reversed(bodies):
        out[first:last] = body
    if args.check:
        return 1 if stale else 0
    for src, dst in FIGURES.items():
        s, d = os.path.join(ROOT, src), os.path.join(ROOT, dst)
        if not os.path.exists(s):
            sys.exit("readme-tour: the tour did not write %s" % src)
        os.makedirs(os.path.dirname(d), exist_ok=True)
        shutil.copyfile(s, d)
    tmp = readme + ".tmp"
    with open(tmp, "w") as f:
        f.writelines(out)
    os.replace(tmp, readme)
    print("readme-tour: %d block(s) updated, %d figure(s) copied" % (stale, len(FIGURES)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
