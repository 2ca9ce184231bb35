"""The `audit` command: a thin dispatcher over one module per subcommand.

`audit DATASET ...` (no subcommand) runs the audit itself; `audit NAME ...` hands the rest of
the command line to the module registered for NAME. Each command module exposes
`configure(parser)` and `run(args) -> int`, so commands are added without touching the others.
User mistakes arrive as `AuditError` and leave with one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from rich.console import Console

from auditor.cli import exit_codes
from auditor.cli.exit_codes import EXIT_USAGE
from auditor.errors import AuditError

# Subcommand -> module. The default command (`audit DATASET`) is `auditor.cli.audit_cmd`.
COMMANDS: dict[str, str] = {
    "demo": "auditor.cli.demo_cmd",
    "bench": "auditor.cli.bench_cmd",
    "filter": "auditor.cli.filter_cmd",
    "detect": "auditor.cli.detect_cmd",
    "lab": "auditor.cli.lab_cmd",
    "generate": "auditor.cli.generate_cmd",
    "probe": "auditor.cli.probe_cmd",
    "serve": "auditor.cli.serve_cmd",
}
DEFAULT_COMMAND = "auditor.cli.audit_cmd"

_stderr = Console(stderr=True, highlight=False)


def _available_commands() -> list[str]:
    return [
        name for name, module in COMMANDS.items() if importlib.util.find_spec(module) is not None
    ]


def _build_parser(module_name: str, prog: str) -> tuple[argparse.ArgumentParser, object]:
    module = importlib.import_module(module_name)
    parser = argparse.ArgumentParser(
        prog=prog,
        description=(module.__doc__ or "").strip() or None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    module.configure(parser)
    return parser, module


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return its exit code (0 pass, 1 verdict failed, 2 usage or input error,
    3 inconclusive)."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list and args_list[0] in COMMANDS:
        command = args_list.pop(0)
        module_name, prog = COMMANDS[command], f"audit {command}"
    else:
        module_name, prog = DEFAULT_COMMAND, "audit"
    try:
        parser, module = _build_parser(module_name, prog)
        if module_name == DEFAULT_COMMAND:
            from auditor.corpus import tool_version

            parser.add_argument(
                "--version", action="version", version=f"subliminal-audit {tool_version()}"
            )
            parser.epilog = (
                "subcommands: " + ", ".join(_available_commands()) + "\n" + exit_codes.HELP
            )
        try:
            args = parser.parse_args(args_list)
        except SystemExit as exit_:  # argparse exits 2 on usage errors and 0 on --help
            return int(exit_.code or 0)
        return int(module.run(args))
    except AuditError as error:
        _stderr.print(f"[bold red]error:[/] {error}", soft_wrap=True)
        return EXIT_USAGE
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError) as error:
        # A path the file system refuses (a directory in the way, a read-only mount, /proc):
        # the user's to fix, so one line naming it, not a traceback.
        where = f" {error.filename}" if error.filename else ""
        _stderr.print(
            f"[bold red]error:[/] cannot use{where}: {error.strerror or error}", soft_wrap=True
        )
        return EXIT_USAGE
    except KeyboardInterrupt:
        _stderr.print("[yellow]interrupted[/]")
        return 130


def entry_point() -> None:
    """Console-script entry: exit with `main`'s code."""
    sys.exit(main())
