"""The set-up file's image paths stay inside the JSON file's folder, and oversized files are not read."""

from pathlib import Path

import pytest

from badging.models import BadgeClass
from badging.services.config import ConfigImportError, config_import
from tests.badging.test_config import document, files, platform  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("where", ["../secret.png", "/SECRET"], ids=["parent", "absolute"])
def test_an_image_outside_the_json_folder_is_refused(files, platform, tmp_path_factory, where):  # noqa: F811
    outside = tmp_path_factory.mktemp("outside") / "secret.png"
    outside.write_bytes((files / "badge.png").read_bytes())  # a perfectly valid image, in the wrong place
    doc = document()
    relative = "../" + outside.relative_to(files.parent).as_posix()
    doc["badge_classes"][0]["image"] = str(outside) if where == "/SECRET" else relative
    with pytest.raises(ConfigImportError) as refused:
        config_import(data=doc, base_dir=files)
    assert any("JSON file's folder" in error for error in refused.value.errors)
    assert not BadgeClass.objects.exists()


def test_an_image_in_a_subfolder_is_fine(files, platform):  # noqa: F811
    (files / "images").mkdir()
    (files / "images" / "b.png").write_bytes((files / "badge.png").read_bytes())
    doc = document()
    doc["badge_classes"][0]["image"] = "images/b.png"
    config_import(data=doc, base_dir=files)
    assert BadgeClass.objects.get().image_content_type == "image/png"


def test_an_oversized_image_file_is_refused_without_reading_it(files, platform, monkeypatch):  # noqa: F811
    (files / "huge.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * (300 * 1024))
    doc = document()
    doc["badge_classes"][0]["image"] = "huge.png"
    real = Path.read_bytes
    monkeypatch.setattr(Path, "read_bytes", lambda p: pytest.fail("read") if p.name == "huge.png" else real(p))
    with pytest.raises(ConfigImportError) as refused:
        config_import(data=doc, base_dir=files)
    assert any("at most 256 KB" in error for error in refused.value.errors)
