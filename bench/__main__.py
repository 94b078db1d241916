"""Run one benchmark: python -m bench {sync,issue,dashboard,chaos,backpack} [options]."""

import importlib
import sys

BENCHES = ("sync", "issue", "dashboard", "chaos", "backpack")


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in BENCHES:
        print(f"usage: python -m bench {{{','.join(BENCHES)}}} [options]", file=sys.stderr)
        return 2
    module = importlib.import_module(f"bench.{sys.argv[1]}")
    return int(module.main(sys.argv[2:]) or 0)


if __name__ == "__main__":
    sys.exit(main())
