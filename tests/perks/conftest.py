import pytest


@pytest.fixture
def media(settings, tmp_path):
    """Uploaded and generated files go to a directory of this test's own."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path / "media"
