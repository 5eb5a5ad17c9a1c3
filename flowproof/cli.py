"""The ``flowproof`` command, a thin layer over the library.

* ``flowproof verify`` proves and checks a sine flow (default: the chapter's) at depths 0..n and a fractional
  depth; ``--claims`` also measures the chapter's claims (modes per depth); ``--certify`` adds the proven checks
  (enclosures and certificates, each number marked proven or computed). ``--json`` prints the report.
* ``flowproof plot OUTDIR`` draws the chapter's figures for the flow.
* ``flowproof docs OUTDIR`` writes derivation pages (reStructuredText + figures) for the flow.

``--phases``, ``--amplitude``, ``--frequency`` describe the flow, ``--depth`` picks depths and ``--dps`` digits.
Exit status: 0 success (every check passed), 1 a check failed, 2 bad usage (a one-line message, no traceback).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from . import __version__
from .exact import exact_depth
from .flow import CHAPTER_AMPLITUDE, CHAPTER_FREQUENCY, CHAPTER_PHASES, Flow
from .layers import SineLayer
from .verify import Check, verify_flow


class UsageError(Exception):
    """Bad command-line usage: reported in one line with exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def _flow_options() -> _Parser:
    options = _Parser(add_help=False)
    options.add_argument("--phases", default=",".join(CHAPTER_PHASES),
                         help="comma-separated phases phi_k, exact decimals (default: the chapter's six)")
    options.add_argument("--amplitude", default=CHAPTER_AMPLITUDE, help="amplitude a (default 0.32)")
    options.add_argument("--frequency", default=str(CHAPTER_FREQUENCY), help="frequency w (default 2)")
    options.add_argument("--depth", default=None,
                         help="comma-separated depths K, fractional allowed (default 0..n and 2.5)")
    options.add_argument("--dps", default="50", help="decimal digits for the high-precision work (default 50)")
    return options


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="flowproof", description="Prove and compute normalizing flows of invertible 1D layers.")
    parser.add_argument("--version", action="version", version=f"flowproof {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    flow = _flow_options()
    verify = commands.add_parser("verify", parents=[flow], help="prove and check a sine flow at several depths",
                                 description="Prove and check f_k(z) = z + a sin(w z + phi_k) stacked K deep.")
    verify.add_argument("--certify", action="store_true",
                        help="also prove: enclosures of the inverse, log-det and log-density checked against the "
                             "computed values, the invertibility and normalisation certificates")
    verify.add_argument("--claims", action="store_true",
                        help="also measure the chapter's claims: every mode of p_Y per depth, and which words hold")
    verify.add_argument("--json", action="store_true", help="print the report as JSON on stdout")
    plot = commands.add_parser("plot", parents=[flow], help="draw the chapter's figures for a flow",
                               description="Write the chapter's figures (PNG) for the flow into OUTDIR.")
    plot.add_argument("outdir", help="folder for the figures (created if missing)")
    docs = commands.add_parser("docs", parents=[flow], help="write derivation pages for a flow",
                               description="Write reStructuredText derivation pages and figures into OUTDIR.")
    docs.add_argument("outdir", help="folder for the pages (created if missing)")
    return parser


def _flow(args: argparse.Namespace) -> Flow:
    phases = [p.strip() for p in args.phases.split(",")]
    if any(not p for p in phases):
        raise UsageError(f"--phases needs comma-separated numbers, one per layer, got {args.phases!r}")
    return Flow(SineLayer(args.amplitude, args.frequency, phase) for phase in phases)


def _depths(args: argparse.Namespace, flow: Flow) -> list[Any] | None:
    if args.depth is None:
        return None
    depths = []
    for text in args.depth.split(","):
        k = exact_depth(text.strip(), "--depth")
        if k > len(flow):
            raise UsageError(f"--depth {text.strip()} is deeper than the {len(flow)} layers given by --phases")
        depths.append(text.strip())
    return depths


def _dps(text: str) -> int:
    try:
        dps = int(text)
    except ValueError:
        raise UsageError(f"--dps must be a whole number of digits, got {text!r}") from None
    if not 15 <= dps <= 1000:
        raise UsageError(f"--dps must be between 15 and 1000, got {dps}")
    return dps


def _parse_flow(args: argparse.Namespace) -> tuple[Flow, list[Any] | None, int]:
    try:
        flow = _flow(args)
        return flow, _depths(args, flow), _dps(args.dps)
    except (ValueError, TypeError) as err:  # the library's own word on a bad parameter
        raise UsageError(str(err)) from None


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _line(depth: str, check: Check) -> str:
    mark = "ok  " if check.passed else "FAIL"
    return f"K={depth:<5} {mark} {check.name:<28} {check.summary}  [{check.method}; {check.seconds:.2f}s]"


def run_verify(args: argparse.Namespace) -> int:
    flow, depths, dps = _parse_flow(args)
    out = sys.stderr if args.json else sys.stdout
    print(f"flowproof verify: {_plural(len(flow), 'layer')} f_k(z) = z + {args.amplitude} sin({args.frequency} z "
          f"+ phi_k), phases {args.phases}; {dps} digits", file=out, flush=True)
    start = time.perf_counter()
    report = verify_flow(flow, depths, dps, progress=lambda d, c: print(_line(d, c), file=out, flush=True),
                         certify=args.certify)
    checks = [c for d in report.depths for c in d.checks]
    failed = [f"K={d.depth} {c.name}" for d in report.depths for c in d.checks if not c.passed]
    print(f"{len(checks) - len(failed)} of {len(checks)} checks passed over {_plural(len(report.depths), 'depth')} in "
          f"{time.perf_counter() - start:.1f}s" + (f"; FAILED: {', '.join(failed)}" if failed else ""),
          file=out, flush=True)
    result = report.to_dict()
    if args.claims:
        result.update(_run_claims(flow, depths, dps, out))
    if args.json:
        print(json.dumps(result, indent=2, default=str))
    return 0 if report.passed else 1


def _run_claims(flow: Flow, depths: list[Any] | None, dps: int, out: Any) -> dict[str, Any]:
    from . import claims
    from .verify import default_depths

    print("\nmodes of p_Y (every strict local maximum, each bracketed and verified at high precision):",
          file=out, flush=True)
    records = claims.mode_records(flow, depths if depths is not None else default_depths(len(flow)))
    for line in claims.mode_lines(flow, [r["depth"] for r in records]):
        print(line, file=out, flush=True)
    print("\nthe chapter's claims (about K = 0, 1, 3 and 6 of this flow, whatever --depth says):", file=out,
          flush=True)
    try:
        found = claims.check_claims(flow)
    except ArithmeticError as err:  # e.g. modes of a near-singular flow that cannot be certified
        print(f"not measured: {err}", file=out, flush=True)
        return {"modes": records, "claims": [], "error": str(err)}
    print(claims.claims_table(found), file=out, flush=True)
    return {"modes": records, "claims": [claim.to_dict() for claim in found]}


def _outdir(text: str) -> Path:
    if not text.strip():
        raise UsageError("OUTDIR must be a folder name, got an empty string")
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise UsageError(f"{path} exists and is not a directory")
    return path


def run_plot(args: argparse.Namespace) -> int:
    from . import plots

    flow, depths, _ = _parse_flow(args)
    outdir = _outdir(args.outdir)
    kwargs: dict[str, Any] = {} if depths is None else {"depths": depths}
    try:
        plots.write_figures(flow, outdir, progress=lambda path: print(f"wrote {path}", flush=True), **kwargs)
    except OSError as err:
        raise UsageError(str(err)) from None
    return 0


def run_docs(args: argparse.Namespace) -> int:
    from . import docsgen

    flow, depths, dps = _parse_flow(args)
    outdir = _outdir(args.outdir)
    try:
        docsgen.write_pages(flow, outdir, depths=depths, dps=dps,
                            progress=lambda path: print(f"wrote {path}", flush=True))
    except OSError as err:
        raise UsageError(str(err)) from None
    return 0


VALUE_OPTIONS = ("--phases", "--amplitude", "--frequency", "--depth", "--dps")


def _join_negative_values(argv: Sequence[str]) -> list[str]:
    """``--amplitude -0.3`` as ``--amplitude=-0.3``: argparse takes ``-0.3`` (or ``-inf``) for an option."""
    out, items = [], list(argv)
    i = 0
    while i < len(items):
        if items[i] in VALUE_OPTIONS and i + 1 < len(items) and items[i + 1].startswith("-"):
            out.append(f"{items[i]}={items[i + 1]}")
            i += 2
        else:
            out.append(items[i])
            i += 1
    return out


COMMANDS = {"verify": run_verify, "plot": run_plot, "docs": run_docs}


def main(argv: Sequence[str] | None = None) -> int:
    argv = _join_negative_values(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser().parse_args(argv)
        return COMMANDS[args.command](args)
    except UsageError as err:
        print(f"flowproof: error: {err}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as err:  # an optional dependency: plot and docs need matplotlib
        print(f"flowproof: error: {args.command} needs {err.name}: pip install 'flowproof[docs]' (or [plot])",
              file=sys.stderr)
        return 2
    except SystemExit as done:  # --help and --version
        return int(done.code or 0)
    except KeyboardInterrupt:
        print("flowproof: interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # a bug, not bad usage: one line, and a non-zero status
        print(f"flowproof: internal error: {type(err).__name__}: {err}", file=sys.stderr)
        if "--json" in argv:
            print(json.dumps({"passed": False, "error": f"{type(err).__name__}: {err}"}))
        return 1


if __name__ == "__main__":
    sys.exit(main())
