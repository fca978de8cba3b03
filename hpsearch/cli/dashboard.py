"""``hpsearch dashboard``: watch a run live in optuna-dashboard, read-only."""
from hpsearch.cli.output import say

__all__ = ["cmd_dashboard"]


def cmd_dashboard(args, argv):
    from hpsearch.integration.dashboard import serve

    try:
        serve(args.run_dir, host=args.host, port=args.port, curves=args.curves, log=say)
    except KeyboardInterrupt:
        say("dashboard stopped")
    return 0
