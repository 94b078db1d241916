"""Run one benchmark: python -m bench {sync,issue,dashboard,chaos,web} [options]; without a name,
every benchmark with its defaults, one after the other (`make bench`): exit status 1 when any missed
its target."""

import importlib
import subprocess
import sys

BENCHES = ("sync", "issue", "dashboard", "chaos", "web")


def main() -> int:
    if len(sys.argv) < 2:
        failed = []
        for name in BENCHES:
            # Each in its own process: every benchmark sets up Django with its own databases.
            print(f"== python -m bench {name}", flush=True)
            if subprocess.run([sys.executable, "-m", "bench", name]).returncode:
                failed.append(name)
        if failed:
            print(f"missed their targets: {', '.join(failed)}", file=sys.stderr)
        return 1 if failed else 0
    if sys.argv[1] not in BENCHES:
        print(f"usage: python -m bench [{'|'.join(BENCHES)}] [options]", file=sys.stderr)
        return 2
    module = importlib.import_module(f"bench.{sys.argv[1]}")
    return int(module.main(sys.argv[2:]) or 0)


if __name__ == "__main__":
    sys.exit(main())
