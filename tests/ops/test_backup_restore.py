"""Backup and restore drill (README › Operations › Backup and restore drill), on real PostgreSQL:
awards issued, `pg_dump -Fc`, `pg_restore` into a fresh database, then the restored database served
by its own gunicorn and driven by its own `manage.py`, as an operator would after losing the server.

Checked after the restore: every award's public OB 2.0 assertion is served and its OB 3.0 credential
verifies (the eddsa-rdfc-2022 proof with the issuer key the restored database publishes, the VC-JWT
with its RSA key, and the third-party verifiers of tests/verifiers); the encrypted Canvas API token
still decrypts and is what the Canvas calls carry; the issuer keys still sign (a new award, then
keys rotated and one more award); a revoked award stays revoked. And a restore started with another
FIELD_ENCRYPTION_KEY, or none, is refused by `migrate` with a message saying why (skillsforward.E007).
"""

import base64
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor

import psycopg2
import pytest
import responses
from cryptography.fernet import Fernet
from django.db import connection

from badging.models import Award
from badging.openbadges import multibase
from badging.services.issuance import issue, review
from lti.services.tool_keys import tool_key_current
from tests.badging.test_issuance import canvas_email
from tests.badging.test_issuance_support import course_badge_with_assessments, eligible_progress
from tests.badging.test_openbadges import verify_eddsa_rdfc_2022, verify_rs256_jwt
from tests.badging.test_wallet_verifiers import VERIFIERS, verify
from tests.conftest import ARTIFACTS, ROOT

pytestmark = pytest.mark.integration

CANVAS = "https://canvas.example.edu"
PG_DUMP, PG_RESTORE = "/usr/bin/pg_dump", "/usr/bin/pg_restore"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pg_env(db: dict) -> dict:
    env = dict(os.environ)
    env.update(PGHOST=db["HOST"] or "127.0.0.1", PGPORT=str(db["PORT"] or 5432), PGUSER=db["USER"] or "postgres")
    if db["PASSWORD"]:
        env["PGPASSWORD"] = db["PASSWORD"]
    return env


def _admin(db: dict, sql: str) -> None:
    conn = psycopg2.connect(
        host=db["HOST"] or "127.0.0.1",
        port=db["PORT"] or 5432,
        user=db["USER"] or "postgres",
        password=db["PASSWORD"] or None,
        dbname="postgres",
    )
    try:
        conn.autocommit = True  # CREATE/DROP DATABASE cannot run in a transaction
        with conn.cursor() as cursor:
            cursor.execute(sql)
    finally:
        conn.close()


@pytest.fixture
def restored_db():
    """A fresh, empty database named sf_drill_*, dropped afterwards."""
    db = connection.settings_dict
    name = f"sf_drill_{uuid.uuid4().hex[:10]}"
    _admin(db, f'CREATE DATABASE "{name}"')
    yield name
    _admin(db, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _database_url(db: dict, name: str) -> str:
    return f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{name}"


def _b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _get(url: str, accept: str = "application/json") -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"Accept": accept})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _ed25519_key(did_url: str, base: str) -> bytes:
    """The key a did:web verification method names, from the DID document the server publishes."""
    did, _, _ = did_url.partition("#")
    host, *segments = did.removeprefix("did:web:").split(":")
    assert urllib.parse.unquote(host) == urllib.parse.urlsplit(base).netloc
    status, body = _get(f"{base}/{'/'.join(segments)}/did.json")
    assert status == 200, body[:300]
    method = next(m for m in json.loads(body)["verificationMethod"] if m["id"] == did_url)
    raw = multibase.b58decode(method["publicKeyMultibase"][1:])
    assert raw[:2] == b"\xed\x01"
    return raw[2:]


def test_backup_and_restore_drill(transactional_db, settings, restored_db, tmp_path, enqueued, request):
    if not (VERIFIERS / "node_modules" / "@digitalbazaar" / "vc").exists():
        pytest.fail("third-party verifiers not installed: run `make venv` (npm ci in tests/verifiers)")
    key = Fernet.generate_key().decode()
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    settings.FIELD_ENCRYPTION_KEY = key
    settings.PUBLIC_BASE_URL = base

    # --- The production database: awards issued, one revoked, two learners still to issue -------
    course_badge = course_badge_with_assessments(api_base_url=CANVAS)
    progress = [eligible_progress(course_badge, email=f"learner{n}@uni.example.edu") for n in range(5)]
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        for row in progress[:3]:
            canvas_email(rsps, row.learner, row.learner.email)
        issued = [issue.award_issue(progress_id=row.pk) for row in progress[:3]]
    assert all(issued)
    review.award_revoke(award_id=issued[2].pk, reason="Issued in error", actor="admin:drill")
    platform = course_badge.course.platform
    tool_key_current()  # the tool's LTI signing key: a secret at rest too

    # --- Backup and restore, with the PostgreSQL client tools an operator uses --------------------
    db = connection.settings_dict
    env = _pg_env(db)
    dump = tmp_path / "badges.dump"
    subprocess.run([PG_DUMP, "--format=custom", "--file", str(dump), db["NAME"]], env=env, check=True, timeout=120)
    restore = [PG_RESTORE, "--no-owner", "--exit-on-error", "--dbname", restored_db, str(dump)]
    subprocess.run(restore, env=env, check=True, timeout=120)

    restored_env = dict(os.environ)
    restored_env.update(
        DATABASE_URL=_database_url(db, restored_db),
        FIELD_ENCRYPTION_KEY=key,
        PUBLIC_BASE_URL=base,
        DJANGO_SETTINGS_MODULE="skillsforward.settings",
        DATABASE_CONN_MAX_AGE="0",
    )

    def manage(*args, **extra_env):
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT, env={**restored_env, **extra_env}, capture_output=True, text=True, timeout=180,
        )  # fmt: skip

    # --- The wrong key, or none: the release step refuses, saying why ---------------------------
    wrong_keys = (Fernet.generate_key().decode(), "")
    with ThreadPoolExecutor(max_workers=2) as pool:  # two operators' mistakes, tried at once
        refusals = list(pool.map(lambda wrong: manage("migrate", "--noinput", FIELD_ENCRYPTION_KEY=wrong), wrong_keys))
    for wrong, refused in zip(wrong_keys, refusals, strict=True):
        assert refused.returncode != 0, refused.stdout
        assert "skillsforward.E007" in refused.stderr, refused.stderr
        assert "cannot be decrypted" in refused.stderr and "lti.Platform.api_token: 1 of 1" in refused.stderr
        assert "badging.IssuerKey.private_key_pem" in refused.stderr and "lti.ToolKey.private_key_pem" in refused.stderr
        assert ("FIELD_ENCRYPTION_KEY is not set" in refused.stderr) == (wrong == "")

    # --- The right key: migrate passes, the token decrypts, the keys sign ------------------------
    migrated = manage("migrate", "--noinput")
    assert migrated.returncode == 0, migrated.stderr
    assert "E007" not in migrated.stderr

    # The restored database served (checked below): gunicorn starts while the operator works on.
    log = ARTIFACTS / f"drill-gunicorn-{restored_db}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "skillsforward.wsgi:application", "--bind", f"127.0.0.1:{port}",
             "--workers", "2", "--timeout", "120"],
            cwd=ROOT, env=restored_env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    request.addfinalizer(lambda: (server.terminate(), server.wait(timeout=30)))

    def issue_in_restored(row) -> dict:
        script = subprocess.run(
            [sys.executable, str(ROOT / "tests" / "ops" / "restored_issue.py"), str(row.pk), CANVAS],
            cwd=ROOT, env=restored_env, capture_output=True, text=True, timeout=180,
        )  # fmt: skip
        assert script.returncode == 0, script.stderr[-3000:]
        result = json.loads(script.stdout.strip().splitlines()[-1])
        assert result["award"], result
        assert result["api_token"] == "canvas-api-token"  # decrypted with the key kept with the backup
        assert result["authorization"] and set(result["authorization"]) == {"Bearer canvas-api-token"}
        return result

    after_restore = issue_in_restored(progress[3])
    rotated = manage("badging_rotate_issuer_keys", "--all")
    assert rotated.returncode == 0, rotated.stderr
    after_rotation = issue_in_restored(progress[4])
    assert set(after_rotation["current_keys"]).isdisjoint(after_restore["current_keys"])

    # The original database is untouched by all this: the restored one is a separate copy.
    assert Award.objects.count() == 3
    platform.refresh_from_db()
    assert platform.api_token == "canvas-api-token"

    # --- The restored database, served: every award verifies -------------------------------------
    for _ in range(1200):  # up to two minutes on a busy machine
        if server.poll() is not None:
            pytest.fail(f"gunicorn on the restored database exited: {log.read_text()[-2000:]}")
        try:
            if _get(f"{base}/health/")[0] in (200, 503):
                break
        except OSError:
            time.sleep(0.1)
    else:
        pytest.fail(f"gunicorn on the restored database did not start: {log.read_text()[-2000:]}")

    ids = [a.public_id for a in issued] + [after_restore["award"], after_rotation["award"]]
    third_party = []
    for n, public_id in enumerate(ids):
        revoked = n == 2
        status, body = _get(f"{base}/public/assertions/{public_id}", accept="application/ld+json")
        if revoked:
            assert status == 410, body[:300]
        else:
            assert status == 200, body[:300]
            assertion = json.loads(body)
            assert assertion["id"] == f"{base}/public/assertions/{public_id}"
            assert assertion["verification"]["type"] == "HostedBadge"
            assert _get(assertion["badge"])[0] == 200

        status, body = _get(f"{base}/public/assertions/{public_id}.ob3.json")
        if revoked and status == 410:  # the holder still has it: it must verify, and show revoked
            credential = issued[2].ob3_credential
        else:
            assert status == 200, body[:300]
            credential = json.loads(body)
        method = credential["proof"][0]["verificationMethod"]
        assert verify_eddsa_rdfc_2022(credential, _ed25519_key(method, base)), public_id
        status, token = _get(f"{base}/public/assertions/{public_id}.jwt", accept="application/jwt")
        if revoked and status == 410:
            token = issued[2].ob3_jwt.encode()
        else:
            assert status == 200, token[:300]
        kid = json.loads(_b64d(token.decode().split(".")[0]))["kid"]
        status, jwk = _get(kid)
        assert status == 200
        verify_rs256_jwt(token.decode(), json.loads(jwk))  # raises on a bad signature
        third_party.append((public_id, credential, revoked))

    # The third-party verifiers (a node process per credential), two at a time.
    with ThreadPoolExecutor(max_workers=2) as pool:
        verdicts = list(pool.map(lambda checked: verify(checked[1], base), third_party))
    for (public_id, _, revoked), verdict in zip(third_party, verdicts, strict=True):
        assert verdict["digitalbazaar"]["verified"], (public_id, verdict["digitalbazaar"])
        assert verdict["dcc"]["verified"] is not revoked, (public_id, verdict["dcc"])
        assert verdict["digitalbazaar"]["revoked"] is revoked
