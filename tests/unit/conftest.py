import pytest


@pytest.fixture(autouse=True)
def _private_data_dir(settings, tmp_path_factory):
    """Each unit test stores datasets and artifacts in its own folder (not in tmp_path, which is the test's),
    and Play 1's zero-shot baseline is left out unless a test turns it on (it loads a real encoder)."""
    settings.DATA_DIR = tmp_path_factory.mktemp("data")
    settings.PLAYBOOK_ZERO_SHOT_ENCODER = "none"
