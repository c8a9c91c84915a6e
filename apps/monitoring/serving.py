"""The web process's model: each package's ONNX predictor, loaded once per process after its manifest
verifies. onnxruntime and tokenizers only: the web process never imports torch."""
import threading

from apps.core import storage

_PREDICTORS: dict[str, object] = {}
_LOCK = threading.Lock()


def predictor_for(package):
    with _LOCK:
        found = _PREDICTORS.get(package.sha256)
        if found is None:
            from workers.engine.packaging import OnnxPredictor

            found = _PREDICTORS[package.sha256] = OnnxPredictor(storage.absolute(package.path),
                                                                  expected_sha256=package.sha256)
        return found


def answers_for(package):
    """texts -> [{label, probabilities in the package's label order}]."""
    predictor, labels = predictor_for(package), list(package.label_names)

    def predict(texts):
        rows = predictor.predict_proba(texts)
        return [{"label": labels[int(row.argmax())], "probabilities": [float(p) for p in row]} for row in rows]

    return predict
