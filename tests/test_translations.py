"""Every text a person reads is marked for translation, and every shipped language translates all
of it: a template with visible text outside {% translate %}/{% blocktranslate %} fails, and so
does a shipped catalogue (es, fr) with a missing, fuzzy or stale message (README "Languages")."""

import ast
import gettext
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings
from django.template.base import Lexer, TokenType

ROOT = Path(settings.BASE_DIR)
# The product's templates: pages, emails, error pages and the product's own admin templates.
# The Canvas sandbox (sandbox/templates) is development infrastructure, English only.
TEMPLATE_DIRS = [ROOT / "templates"]
SHIPPED = ["es", "fr"]
# Partial catalogues: what they have must be current and compiled; English fills the rest.
PARTIAL = ["ar"]

# Text that is the same in every language: units and the product's and standards' names.
UNTRANSLATED = {"UTC", "Skills Forward Badges"}
# Attributes people read (or hear from a screen reader); a button's value is its label.
ATTRIBUTES = re.compile(r'\b(alt|title|aria-label|placeholder|aria-description)\s*=\s*"([^"]*)"')
BUTTON_VALUE = re.compile(r'<input\b[^>]*\btype="(?:submit|button|reset)"[^>]*\bvalue="([^"]*)"')
RAW = re.compile(r"<(script|style|svg)\b.*?</\1>", re.S)
TAG = re.compile(r"<[^>]*>", re.S)
ENTITY = re.compile(r"&[a-zA-Z]+;|&#\d+;")
HOLE = "\x00"  # where a {{ variable }} or a translated text stands


def _visible_words(text: str) -> list[str]:
    text = ENTITY.sub(" ", text.replace(HOLE, " "))
    for word in UNTRANSLATED:
        text = text.replace(word, " ")
    return re.findall(r"[^\W\d_]{2,}", text)


def untranslated_text(source: str) -> list[str]:
    """Human text outside translation tags: words between tags, text in alt/title/aria-label/
    placeholder attributes and button labels. The template is first reduced to its markup and
    literal text (variables, tags and translated texts become holes); {% comment %}, <script>,
    <style> and <svg> bodies are not read."""
    skeleton: list[str] = []
    depth_trans = depth_comment = 0
    for token in Lexer(source).tokenize():
        if token.token_type == TokenType.BLOCK:
            name = (token.contents.split() or [""])[0]
            depth_trans += name in ("blocktranslate", "blocktrans")
            depth_trans -= name in ("endblocktranslate", "endblocktrans")
            depth_comment += name == "comment"
            depth_comment -= name == "endcomment"
            skeleton.append(HOLE)
        elif token.token_type == TokenType.TEXT and not depth_trans and not depth_comment:
            skeleton.append(token.contents)
        elif token.token_type == TokenType.VAR:
            skeleton.append(HOLE)
    text = RAW.sub(" ", "".join(skeleton))
    found = [v.strip() for _, v in ATTRIBUTES.findall(text) if _visible_words(v)]
    found += [v.strip() for v in BUTTON_VALUE.findall(text) if _visible_words(v)]
    for chunk in re.split(r"(?:\s*<[^>]*>\s*)+", text):
        if _visible_words(chunk):
            found.append(" ".join(chunk.replace(HOLE, " ").split()))
    return found


def product_templates() -> list[Path]:
    return sorted(p for d in TEMPLATE_DIRS for p in d.rglob("*") if p.suffix in (".html", ".txt"))


def test_the_checker_finds_unmarked_text():
    assert untranslated_text("<p>Hello {{ name }}</p>") == ["Hello"]
    assert untranslated_text('<img alt="A badge">') == ["A badge"]
    assert untranslated_text('<p>{% translate "Hello" %} {{ name }}</p><span>—</span> UTC') == []
    assert untranslated_text("{% blocktranslate %}Hi <b>{{ n }}</b> there{% endblocktranslate %}") == []
    assert untranslated_text("{% comment %}A note for developers{% endcomment %}") == []
    assert untranslated_text('<svg viewBox="0 0 1 1"><path d="M12 2l2"/></svg>') == []


@pytest.mark.parametrize("path", product_templates(), ids=lambda p: str(p.relative_to(ROOT)))
def test_template_text_is_marked_for_translation(path):
    assert untranslated_text(path.read_text(encoding="utf-8")) == []


@dataclass
class Entry:
    msgctxt: str = ""
    msgid: str = ""
    msgid_plural: str = ""
    msgstr: str = ""
    msgstr_plural: dict[int, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)
    obsolete: bool = False


def read_po(path: Path) -> list[Entry]:
    """The entries of a gettext .po file (the header entry, msgid "", left out)."""
    entries: list[Entry] = []
    entry, last = Entry(), None

    def finish():
        nonlocal entry, last
        if entry.msgid or entry.msgid_plural:
            entries.append(entry)
        entry, last = Entry(), None

    for raw in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        line = raw.strip()
        obsolete = line.startswith("#~")
        if obsolete:
            line = line[2:].strip()
        if not line:
            finish()
            continue
        if line.startswith("#,"):
            entry.flags |= {f.strip() for f in line[2:].split(",")}
            continue
        if line.startswith("#"):
            continue
        if line.startswith('"'):
            value = ast.literal_eval(line)
        else:
            keyword, _, rest = line.partition(" ")
            if keyword in ("msgctxt", "msgid") and (entry.msgstr or entry.msgstr_plural):
                finish()
            entry.obsolete = entry.obsolete or obsolete
            last, value = keyword, ast.literal_eval(rest)
            if last.startswith("msgstr["):
                entry.msgstr_plural[int(last[7:-1])] = ""
        if last is None:
            continue
        if last.startswith("msgstr["):
            entry.msgstr_plural[int(last[7:-1])] += value
        else:
            setattr(entry, last, getattr(entry, last) + value)
    return entries


def _catalogue(language: str) -> list[Entry]:
    return read_po(ROOT / "locale" / language / "LC_MESSAGES" / "django.po")


@pytest.fixture(scope="module")
def extracted(tmp_path_factory) -> set[str]:
    """The messages makemessages extracts from the product now, in a scratch copy of the project."""
    if not shutil.which("xgettext"):
        pytest.skip("gettext (xgettext) is not installed")
    work = tmp_path_factory.mktemp("messages")
    for name in ("badging", "canvas", "lti", "skillsforward", "templates"):
        shutil.copytree(ROOT / name, work / name, ignore=shutil.ignore_patterns("__pycache__", "migrations"))
    shutil.copy(ROOT / "manage.py", work / "manage.py")
    (work / "locale").mkdir()
    subprocess.run(
        [sys.executable, "-c", _MAKEMESSAGES, str(work)],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    return {_key(entry) for entry in read_po(work / "locale" / "es" / "LC_MESSAGES" / "django.po")}


# makemessages run against the scratch copy (its own locale/ folder), with the project's settings.
_MAKEMESSAGES = """
import os, sys
sys.path.insert(0, os.getcwd())  # the project, before the scratch copy becomes the working directory
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "skillsforward.settings")
import django
django.setup()
from django.core.management import call_command
os.chdir(sys.argv[1])
call_command("makemessages", locale=["es"], extensions=["html", "txt", "py"], no_obsolete=True, verbosity=0)
"""


def _key(entry) -> str:
    return f"{entry.msgctxt or ''}\x04{entry.msgid}"


@pytest.mark.parametrize("language", SHIPPED)
def test_shipped_catalogue_is_complete(language, extracted):
    po = _catalogue(language)
    live = [e for e in po if not e.obsolete]
    known = {_key(e) for e in live}
    new = sorted(extracted - known)
    assert not new, f"{language}: not in the catalogue (run makemessages): {new[:10]}"
    assert not known - extracted, f"{language}: stale messages: {sorted(known - extracted)[:10]}"
    fuzzy = [e.msgid for e in live if "fuzzy" in e.flags]
    assert not fuzzy, f"{language}: fuzzy: {fuzzy[:10]}"
    missing = [e.msgid for e in live if not (e.msgstr_plural and all(e.msgstr_plural.values())) and not e.msgstr]
    assert not missing, f"{language}: {len(missing)} untranslated, e.g. {missing[:10]}"


@pytest.mark.parametrize("language", PARTIAL)
def test_partial_catalogue_has_no_stale_or_fuzzy_message(language, extracted):
    live = [e for e in _catalogue(language) if not e.obsolete]
    assert not {_key(e) for e in live} - extracted
    assert not [e.msgid for e in live if "fuzzy" in e.flags]


@pytest.mark.parametrize("language", SHIPPED + PARTIAL)
def test_compiled_catalogue_matches_the_source(language, tmp_path):
    """The .mo Django loads is the .po compiled (msgfmt --check: placeholders and plurals agree)."""
    source = ROOT / "locale" / language / "LC_MESSAGES" / "django.po"
    if not shutil.which("msgfmt"):
        pytest.skip("gettext (msgfmt) is not installed")
    out = tmp_path / "django.mo"
    subprocess.run(["msgfmt", "--check", "-o", str(out), str(source)], check=True)
    with source.with_suffix(".mo").open("rb") as shipped, out.open("rb") as fresh:
        assert gettext.GNUTranslations(shipped)._catalog == gettext.GNUTranslations(fresh)._catalog  # type: ignore[attr-defined]
