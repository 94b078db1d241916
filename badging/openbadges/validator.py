"""Runs the official Open Badges 2.0 validator (1EdTech `openbadges` 1.1.2, the core Badgr's
backpack import uses) as a subprocess, for tests and operators.

The tool lives outside this repository (env OB_VALIDATOR, default ../shared/tools/ob-validator/
ob-validate next to the repo) and builds its own venv on first use: its pins clash with ours.
"""

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent


def validator_path() -> Path:
    return Path(os.environ.get("OB_VALIDATOR") or (REPO.parent / "shared" / "tools" / "ob-validator" / "ob-validate"))


@dataclass(frozen=True)
class ValidationResult:
    valid: bool
    report: dict
    output: str

    @property
    def errors(self) -> list[str]:
        return [
            f"{m.get('name')}: {m.get('result')}"
            for m in self.report.get("report", {}).get("messages", [])
            if m.get("messageLevel") == "ERROR"
        ]


def validate(
    target: str | None = None, *, recipient: str | None = None, image: Path | None = None, timeout: float = 300
) -> ValidationResult:
    """Validate an assertion URL / JSON / JWS, or a baked image; `recipient` checks the email."""
    tool = validator_path()
    if not tool.exists():
        raise FileNotFoundError(f"Open Badges validator not found at {tool} (set OB_VALIDATOR)")
    args = [str(tool), "--json"]
    if recipient:
        args += ["--recipient", recipient]
    if image is not None:
        args += ["--image", str(image)]
    if target is not None:
        args.append(target)
    completed = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)
    try:
        report = json.loads(completed.stdout[completed.stdout.index("{") :])
    except ValueError:
        report = {}
    return ValidationResult(valid=completed.returncode == 0, report=report, output=completed.stdout + completed.stderr)
