#!/usr/bin/env bash
# The static checks CI runs before the test suite (.ci/run), also run by the pre-commit hook
# (.pre-commit-config.yaml): lint, format, types, migrations, and the deployment checks of the
# production settings. Run from anywhere; needs the venv (make venv).
set -euo pipefail
cd "$(dirname "$0")/.."

.venv/bin/ruff check .
.venv/bin/ruff format --check .
SANDBOX_ENABLED=true .venv/bin/mypy lti canvas badging skillsforward sandbox
.venv/bin/python manage.py makemigrations --check --dry-run
# The production settings must pass Django's deployment checks (throwaway secrets, example host).
DJANGO_DEBUG=false DJANGO_SECRET_KEY="ci-$(head -c 32 /dev/urandom | base64 | tr -dc 'a-zA-Z0-9')-deploy-check-key" \
  FIELD_ENCRYPTION_KEY="$(.venv/bin/python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')" \
  TRUSTED_PROXY_COUNT=1 \
  DJANGO_SECURE_SSL_REDIRECT=true DJANGO_ALLOWED_HOSTS=badges.example.edu PUBLIC_BASE_URL=https://badges.example.edu \
  DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/skillsforward}" \
  REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379/0}" \
  .venv/bin/python manage.py check --deploy --fail-level WARNING
