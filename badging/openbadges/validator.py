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


def _is_svg(image: Path) -> bool:
    with image.open("rb") as fh:
        head = fh.read(512).lstrip()
    return head.startswith(b"<")


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
    if image is not None and _is_svg(image):
        # The validator's own bakery (1.2.4) returns an SVG's verify URL as bytes, which
        # openbadges 1.1.2 cannot take ("only URL, JSON, or JWS input"): every hosted baked SVG
        # crashes it. openbadges-bakery 2.0.0 fixed that; unbake with it and validate its answer.
        from openbadges_bakery import unbake

        with image.open("rb") as fh:
            target, image = unbake(fh), None
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
