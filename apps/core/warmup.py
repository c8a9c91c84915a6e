"""Warm a web process before it takes requests.

Django imports the URLconf, and with it every view module and what they import (numpy, SciPy and
scikit-learn for the monitoring and evaluation pages), on the first request a process serves; the template
loader compiles each template the first time it is used. On the load benchmark's 2-core machine that made
the first visit to the deployment monitoring page in each worker take 1.7 s instead of 30 ms, which alone
put that page's p99 over its target. Gunicorn calls ``warm_up`` once in each worker as it starts
(config/gunicorn.conf.py), before the worker accepts connections.
"""
import importlib
import logging
import time
from pathlib import Path

logger = logging.getLogger(__name__)


def _template_names() -> list[str]:
    """Every template of the project and its apps (by the name a view would load it by)."""
    from django.template import engines

    names = set()
    for engine in engines.all():
        for directory in engine.template_dirs:
            root = Path(directory)
            if root.is_dir():
                names.update(str(path.relative_to(root)) for path in root.rglob("*.html"))
    return sorted(names)


def warm_up() -> dict:
    """Import every page's code and compile every template; returns what was done and how long it took.
    A template that does not compile is logged and skipped: warming never stops a worker from starting."""
    from django.template import TemplateSyntaxError, engines
    from django.urls import get_resolver

    from apps.core import registry

    started = time.perf_counter()
    resolver = get_resolver()
    resolver.reverse_dict  # imports the URLconf, every view module, and builds the reverse lookups
    for module in registry.play_modules().values():  # the play modules the pages call into
        for name in module.page_imports:  # and what their pages import only when first needed
            importlib.import_module(name)
    compiled = 0
    engine = engines["django"]
    for name in _template_names():
        try:
            engine.get_template(name)
            compiled += 1
        except TemplateSyntaxError:
            logger.exception("warm-up: template %s does not compile", name)
        except Exception:  # noqa: BLE001 - a template only some other engine or app can load
            logger.debug("warm-up: template %s skipped", name, exc_info=True)
    seconds = time.perf_counter() - started
    logger.info("warm-up: %d templates compiled, URLconf and play modules imported in %.2f s", compiled, seconds)
    return {"templates": compiled, "seconds": seconds}
