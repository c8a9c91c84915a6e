import pytest


@pytest.fixture(autouse=True)
def _private_data_dir(settings, tmp_path):
    """Each unit test stores datasets and artifacts in its own folder."""
    settings.DATA_DIR = tmp_path / "data"
    settings.DATA_DIR.mkdir()
