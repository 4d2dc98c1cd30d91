"""The ``salesnb`` command line: ``salesnb report`` publishes, ``salesnb deliver`` e-mails a period,
``salesnb data`` writes the demo.

Errors the user can fix (a bad period, params file or data) print one clear message and
exit with status 2; failed notebooks print one line each and exit with status 1.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

__all__ = ["main"]


def _report(args: argparse.Namespace) -> int:
    from salesnb.publish import PublishError, Stopped, publish

    try:
        report = publish(period=args.period or None, base=Path(args.base) if args.base else None,
                         out_dir=Path(args.out) if args.out else None, workers=args.workers,
                         force=args.force, progress=not args.quiet)
    except PublishError as exc:
        print(f"salesnb report: {exc}", file=sys.stderr)
        return 2
    except Stopped as exc:
        print(f"salesnb report: stopped by {exc} before any page ran; nothing published was changed",
              file=sys.stderr)
        return 128 + exc.signum
    except OSError as exc:  # the params or outputs folder itself: one line, not a traceback
        from salesnb.publish import disk_fault

        print(f"salesnb report: {disk_fault(exc) or exc}; nothing published was changed", file=sys.stderr)
        return 1
    ran, skipped = len(report.ran), len(report.results) - len(report.ran)
    ok = ran - len(report.failures)
    if ran:
        print(f"published {ok} of {ran} pages in {report.seconds:.1f} s"
              + (f" ({skipped} up to date)" if skipped else "") + f"; index: {report.index}")
    else:
        print(f"all {skipped} pages up to date ({report.seconds:.2f} s); index: {report.index}")
    if report.failures:
        print(f"{len(report.failures)} failed (last good pages kept; executed notebooks under "
              f"<period>/_failed/):", file=sys.stderr)
        for r in sorted(report.failures, key=lambda r: (r.period, r.notebook)):
            print(f"  FAILED {r.line()}", file=sys.stderr)
    for line in report.notes:
        print(f"note: {line}")
    for line in report.problems:
        print(f"  {line}", file=sys.stderr)
    if report.stopped:
        import signal

        print(f"salesnb report: stopped by {signal.Signals(report.stopped).name}; the pages that finished are "
              f"published, the others keep their last good page", file=sys.stderr)
        return 128 + report.stopped
    return 1 if report.failures or report.problems else 0


def _deliver(args: argparse.Namespace) -> int:
    import os

    from salesnb.deliver import DeliveryError, deliver

    to = (args.to or os.environ.get("SALESNB_DELIVER_TO", "")).split(",")
    try:
        delivery, written = deliver(args.period or None, to, base=Path(args.base) if args.base else None,
                                    dry_run=args.dry_run)
    except (DeliveryError, ValueError) as exc:  # a params file or period the user must fix
        print(f"salesnb deliver: {exc}", file=sys.stderr)
        return 2
    where = f"written to {written}" if written else f"sent to {delivery.message['To']}"
    if not delivery.ok:
        print(f"salesnb deliver: the report is not whole; only a failure notice was {where}:", file=sys.stderr)
        for line in delivery.problems:
            print(f"  {line}", file=sys.stderr)
        return 1
    print(f"{delivery.message['Subject']}: {len(delivery.attachments)} attachment(s) {where}")
    return 0


def _data(args: argparse.Namespace) -> int:
    from salesnb.data.demo import main as demo_main

    return demo_main([args.folder, "--seed", str(args.seed)])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="salesnb", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    rep = sub.add_parser("report", help="run the report notebooks and publish HTML")
    rep.add_argument("--period", help="one period (2026-10, 2026-Q3, 2026, 2026-W42, a..b)")
    rep.add_argument("--base", help="shared params file (default params/base.yaml)")
    rep.add_argument("--out", help="output folder (default outputs/)")
    rep.add_argument("--workers", type=int, default=None, help="parallel jobs (default: cores)")
    rep.add_argument("--quiet", action="store_true", help="no progress bar")
    rep.add_argument("--force", action="store_true", help="run every page, changed or not")
    rep.set_defaults(func=_report)
    dlv = sub.add_parser("deliver", help="e-mail a published period: headline figures, pages and kpis.xlsx")
    dlv.add_argument("--period", help="the period (default: the newest published period that has ended)")
    dlv.add_argument("--to", help="recipients, comma-separated (default: SALESNB_DELIVER_TO)")
    dlv.add_argument("--base", help="shared params file (default params/base.yaml)")
    dlv.add_argument("--dry-run", action="store_true", help="write the message to outputs/mail/ instead of sending")
    dlv.set_defaults(func=_deliver)
    dat = sub.add_parser("data", help="write the demo data")
    dat.add_argument("folder", nargs="?", default="data/demo")
    dat.add_argument("--seed", type=int, default=20261031)
    dat.set_defaults(func=_data)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
