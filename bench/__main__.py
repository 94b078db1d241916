"""Run one benchmark, or all of them: python -m bench [{sync,issue,dashboard,chaos,web,backpack,all}] [options]
(no name: all, one after the other, as `make bench` does; exit status 1 when any missed its target)."""

import importlib
import subprocess
import sys

BENCHES = ("sync", "issue", "dashboard", "chaos", "web", "backpack")


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] == "all":
        # One process each: every benchmark sets up Django with its own database and settings.
        failed = [name for name in BENCHES if subprocess.call([sys.executable, "-m", "bench", name]) != 0]
        if failed:
            print(f"bench all: missed a target or failed: {', '.join(failed)}", file=sys.stderr)
        return 1 if failed else 0
    if sys.argv[1] not in BENCHES:
        print(f"usage: python -m bench {{{','.join(BENCHES)},all}} [options]", file=sys.stderr)
        return 2
    module = importlib.import_module(f"bench.{sys.argv[1]}")
    return int(module.main(sys.argv[2:]) or 0)


if __name__ == "__main__":
    sys.exit(main())
