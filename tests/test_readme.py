"""Every `hpsearch ...` command in README.md's code blocks parses, names real study files, and plans.

Commands are taken from fenced code blocks (a leading `$ ` prompt is dropped, `&&` / `;`
chains are split). Commands holding placeholders such as `tcp://HOST:PORT` or `STUDY.toml`
are skipped. `run` commands must pass `--dry-run`; `compare` commands must plan every
strategy; `show` / `plot` / `export` must point at the folder of a study run by the README.
"""
import re
import shlex
from pathlib import Path

import pytest

from hpsearch.cli import build_parser, main
from hpsearch.studyfile.reader import load_study_file

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"

# The lines the README holds in any case (checked even while the README is being written).
FALLBACK = [
    "hpsearch run studies/digits_mlp.toml",
    "hpsearch show runs/digits-mlp",
    "hpsearch plot runs/digits-mlp",
    "hpsearch sanity studies/digits_mlp.toml",
    "hpsearch compare studies/random_vs_grid.toml",
]
# Upper-case words of 3+ letters (HOST, PORT, STUDY, RUN_DIR, URL) mark placeholders.
_PLACEHOLDER = re.compile(r"\b[A-Z][A-Z_]{2,}\b|<[^>]+>|\.\.\.")


def readme_commands():
    if not README.exists():
        return list(FALLBACK)
    commands = []
    for block in re.findall(r"^```[^\n]*\n(.*?)^```", README.read_text(), flags=re.M | re.S):
        for line in block.splitlines():
            line = line.strip()
            if line.startswith("$ "):
                line = line[2:]
            line = line.split(" #")[0].strip()
            for part in re.split(r"&&|;|\|\|", line):
                part = part.strip()
                if part.startswith("hpsearch ") and not _PLACEHOLDER.search(part):
                    commands.append(part)
    # the README's own commands first, then the lines it is meant to hold
    return list(dict.fromkeys(commands + FALLBACK))


COMMANDS = readme_commands()


def run_dirs(commands):
    """The run folders the README's `run` / `compare` commands write."""
    parser, dirs = build_parser(), set()
    for command in commands:
        args = parser.parse_args(shlex.split(command)[1:])
        if args.command == "run":
            name = args.name or load_study_file(ROOT / args.study).name
            dirs.add(Path(args.out) if args.out else Path("runs") / name)
    return dirs


@pytest.mark.parametrize("command", COMMANDS)
def test_readme_command(command, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    argv = shlex.split(command)[1:]
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit:  # argparse rejected it
        pytest.fail(f"README command does not parse: {command!r} ({capsys.readouterr().err.strip()})")
    if args.command in ("run", "compare", "sanity"):
        sf = load_study_file(args.study)  # exists and loads without error
        if args.command == "run":
            code = main(argv + ["--dry-run"])
            assert code == 0, capsys.readouterr().err
        elif args.command == "compare":
            from hpsearch.compare import DEFAULT_STRATEGIES

            for strategy in args.strategies or DEFAULT_STRATEGIES:
                assert sf.plan(strategy, n_trials=args.trials)
    else:  # show / plot / export read the folder a README `run` command writes
        assert Path(args.run_dir) in run_dirs(COMMANDS), (
            f"{command!r} reads {args.run_dir}, which no README 'hpsearch run' command writes")
