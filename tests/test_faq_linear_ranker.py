"""The linear re-ranker blends its probabilities into the selector's ranking."""
from __future__ import annotations

from rasa.shared.nlu.training_data.message import Message

from bot.nlu.faq_linear_ranker import FaqLinearRanker


def message() -> Message:
    return Message(
        {
            "text": "问题",
            "response_selector": {
                "faq": {
                    "response": {
                        "id": 1,
                        "intent_response_key": "faq/a",
                        "utter_action": "utter_faq/a",
                        "confidence": 0.6,
                        "responses": [{"text": "A"}],
                    },
                    "ranking": [
                        {"id": 1, "intent_response_key": "faq/a", "confidence": 0.6},
                        {"id": 2, "intent_response_key": "faq/b", "confidence": 0.3},
                        {"id": 3, "intent_response_key": "faq/c", "confidence": 0.1},
                    ],
                }
            },
        }
    )


def ranker(weight: float) -> FaqLinearRanker:
    return FaqLinearRanker({**FaqLinearRanker.get_default_config(), "weight": weight}, None, None)


def test_a_confident_linear_model_can_change_the_answer():
    msg = message()
    ranker(0.5)._rerank(msg, {"faq/a": 0.1, "faq/b": 0.8, "faq/c": 0.1})
    selected = msg.get("response_selector")["faq"]
    assert [c["intent_response_key"] for c in selected["ranking"]] == ["faq/b", "faq/a", "faq/c"]
    assert selected["ranking"][0]["confidence"] == 0.55
    assert selected["response"]["intent_response_key"] == "faq/b"
    assert selected["response"]["utter_action"] == "utter_faq/b"
    assert selected["response"]["confidence"] == 0.55


def test_agreement_keeps_the_answer_and_its_texts():
    msg = message()
    ranker(0.5)._rerank(msg, {"faq/a": 0.9, "faq/b": 0.05, "faq/c": 0.05})
    response = msg.get("response_selector")["faq"]["response"]
    assert response["intent_response_key"] == "faq/a"
    assert response["responses"] == [{"text": "A"}]
    assert round(response["confidence"], 3) == 0.75


def test_weight_zero_is_the_selector_alone():
    msg = message()
    ranker(0.0)._rerank(msg, {"faq/a": 0.0, "faq/b": 0.0, "faq/c": 1.0})
    ranking = msg.get("response_selector")["faq"]["ranking"]
    assert [c["confidence"] for c in ranking] == [0.6, 0.3, 0.1]


def test_messages_without_a_selector_result_are_left_alone():
    msg = Message({"text": "你好"})
    ranker(0.5)._rerank(msg, {"faq/a": 1.0})
    assert msg.get("response_selector") is None


def test_a_persisted_model_loads_back_with_the_same_probabilities(tmp_path):
    import numpy as np
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource
    from sklearn.svm import LinearSVC

    rng = np.random.default_rng(7)
    features = rng.random((30, 12))
    labels = [f"faq/{'abc'[i % 3]}" for i in range(30)]
    storage = LocalModelStorage(tmp_path)
    resource = Resource("faq_linear_ranker")
    config = FaqLinearRanker.get_default_config()
    trained = FaqLinearRanker(config, storage, resource, LinearSVC(C=2.0).fit(features, labels))
    trained.persist()

    loaded = FaqLinearRanker.load(config, storage, resource, None)
    assert list(loaded.classifier.classes_) == ["faq/a", "faq/b", "faq/c"]
    assert np.allclose(loaded._probabilities(features), trained._probabilities(features))
    assert FaqLinearRanker.fingerprint_addon(config), "the format is part of the cache key"


def test_its_probabilities_are_a_softmax_of_scikit_learns_scores():
    import numpy as np
    from scipy.sparse import csr_matrix
    from scipy.special import softmax
    from sklearn.svm import LinearSVC

    rng = np.random.default_rng(3)
    features = csr_matrix(rng.random((40, 25)) * (rng.random((40, 25)) > 0.7))
    labels = [f"faq/{'abcd'[i % 4]}" for i in range(40)]
    fitted = LinearSVC(C=2.0).fit(features, labels)
    config = {**FaqLinearRanker.get_default_config(), "temperature": 4.0}
    probabilities = FaqLinearRanker(config, None, None, fitted)._probabilities(features)
    assert np.allclose(probabilities, softmax(4.0 * fitted.decision_function(features), axis=1))
    assert (probabilities.argmax(axis=1) == fitted.decision_function(features).argmax(axis=1)).all()


def test_two_entries_give_two_probabilities():
    import numpy as np
    from sklearn.svm import LinearSVC

    features = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    fitted = LinearSVC().fit(features, ["faq/a", "faq/a", "faq/b", "faq/b"])
    probabilities = FaqLinearRanker(FaqLinearRanker.get_default_config(), None, None, fitted)._probabilities(features)
    assert probabilities.shape == (4, 2)
    assert np.allclose(probabilities.sum(axis=1), 1.0)
    assert list(probabilities.argmax(axis=1)) == [0, 0, 1, 1]
