"""Intents by logistic regression over TF-IDF character and word n-grams.

Why not DIET's intent head: on the voices split (run-ons, typos, slang, English
names) DIET reached macro-F1 0.931 at best over every epoch count and n-gram range
tried, while a linear model over the same kind of features reached 0.952–0.955
whichever n-gram ranges and regularisation it was given (README, NLU section).
With a few thousand short examples and no pretrained Chinese vectors, a linear
model that weighs every n-gram it saw generalises to new phrasing better than a
transformer trained from scratch. DIET keeps what it is good at here: client-name
spans, which need the sequence.

Two views of a message: character 1–3-grams of the text (within whitespace-cut
words, so 先森 and 先生 share 先), which carry typos and slang, and word 1–2-grams
of the jieba tokens, which carry word order (不是…是, 会不会). Client names are
replaced by one placeholder in both (the annotated names in training, the
extractors' names at run time), so a bare name typed as an answer reads like
every other bare name. The model is saved with skops and loaded only if it holds
nothing but the types this file expects.
"""

from __future__ import annotations

import logging
from types import ModuleType
from typing import Any

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.nlu.constants import TOKENS_NAMES
from rasa.nlu.tokenizers.tokenizer import Tokenizer
from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from scipy.sparse import csr_matrix, hstack
from scipy.special import softmax
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

MODEL_FILE = "linear_intents.skops"
CLIENT_NAME = "client_name"
# Stands for any client's name: the intent is in the words around a name, and a
# name seen in training (赵子轩) should weigh no more than one never seen.
NAME = "Ⓝ"
# What a saved model may contain beyond skops' own trusted types: the two
# vectorizers, the model, the dtype a vectorizer keeps as a type object and the
# sparse diagonal its IDF weights are kept in.
EXPECTED_TYPES = {
    "sklearn.feature_extraction.text.TfidfVectorizer",
    "sklearn.feature_extraction.text.TfidfTransformer",
    "sklearn.linear_model._logistic.LogisticRegression",
    "numpy.float64",
    "scipy.sparse._csr.csr_matrix",
}


def _skops_io() -> ModuleType:
    """``skops.io``, imported without its side effect on logging.

    skops imports ``numpy.distutils``, whose log module sets the threshold of
    setuptools' distutils log, that is the root logger, to WARNING: loaded at
    model load inside the Rasa server, it silenced every INFO line after it.
    """
    root = logging.getLogger()
    level = root.level
    import skops.io

    root.setLevel(level)
    return skops.io


class UnexpectedModelContent(ValueError):
    """The saved intent model holds types this component never writes."""


def _names(message: Message) -> list[tuple[int, int]]:
    """Where the message names a client: the annotation in training, the extractors'
    final spans at run time (this component runs after them)."""
    return sorted(
        (entity["start"], entity["end"])
        for entity in message.get(ENTITIES) or []
        if entity.get("entity") == CLIENT_NAME
    )


def _chars(message: Message) -> str:
    """The text with each client name replaced by one placeholder character."""
    text = message.get(TEXT) or ""
    pieces, cursor = [], 0
    for start, end in _names(message):
        if start >= cursor:
            pieces += [text[cursor:start], NAME]
            cursor = end
    return "".join(pieces) + text[cursor:]


def _words(message: Message) -> str:
    """The message's jieba tokens, space-separated, a client name as one placeholder."""
    names = _names(message)
    words: list[str] = []
    for token in message.get(TOKENS_NAMES[TEXT]) or []:
        if any(start < token.end and token.start < end for start, end in names):
            if not words or words[-1] != NAME:
                words.append(NAME)
        else:
            words.append(token.text.lower())
    return " ".join(words)


class TfidfView:
    """A fitted ``TfidfVectorizer``'s ``transform`` for one text at a time, without its
    cost per call.

    scikit-learn's ``transform`` checks that the vectorizer is fitted twice and
    rebuilds the IDF vector from its sparse diagonal on every call: most of the
    linear classifier's time in the NLU service. The fitted analyzer, vocabulary
    and IDF weights are taken once; the arithmetic is the transformer's (counts,
    1 + log with ``sublinear_tf``, times IDF, L2 norm per row). A test holds it to
    ``transform`` on every test-split text.
    """

    def __init__(self, vectorizer: TfidfVectorizer) -> None:
        if vectorizer.norm != "l2" or not vectorizer.use_idf:
            raise ValueError("TfidfView reproduces an L2-normed vectorizer with IDF only")
        self._analyze = vectorizer.build_analyzer()
        self._vocabulary: dict[str, int] = vectorizer.vocabulary_
        self._idf = np.asarray(vectorizer.idf_, dtype=np.float64)
        self._sublinear = bool(vectorizer.sublinear_tf)
        self.width = len(self._idf)

    def row(self, text: str, offset: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """The text's non-zero columns (ascending, shifted by ``offset``) and their weights."""
        counts: dict[int, int] = {}
        for term in self._analyze(text):
            column = self._vocabulary.get(term)
            if column is not None:
                counts[column] = counts.get(column, 0) + 1
        columns = np.fromiter(sorted(counts), dtype=np.int64, count=len(counts))
        values = np.array([counts[c] for c in columns.tolist()], dtype=np.float64)
        if self._sublinear:
            np.log(values, out=values)
            values += 1
        values *= self._idf[columns]
        norm = np.sqrt(np.dot(values, values))
        if norm > 0:
            values /= norm
        return columns + offset, values


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class LinearIntentClassifier(GraphComponent, IntentClassifier):
    """Multinomial logistic regression on character and word TF-IDF n-grams."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            "char_ngrams": [1, 3],
            "word_ngrams": [1, 2],
            # Inverse regularisation; 10–100 measured alike, 30 in the middle.
            "C": 30.0,
            "max_iter": 2000,
            "ranking_length": 10,
        }

    @classmethod
    def required_components(cls) -> list[type]:
        return [Tokenizer]

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        parts: dict[str, Any] | None = None,
    ) -> None:
        self.config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self.parts = parts
        self._weights: np.ndarray | None = None
        self._views: tuple[TfidfView, TfidfView] | None = None

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> LinearIntentClassifier:
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        examples = [m for m in training_data.intent_examples if m.get(TEXT) and m.get(INTENT)]
        chars = TfidfVectorizer(
            analyzer="char_wb", ngram_range=tuple(self.config["char_ngrams"]), sublinear_tf=True
        )
        words = TfidfVectorizer(
            token_pattern=r"\S+",
            ngram_range=tuple(self.config["word_ngrams"]),
            sublinear_tf=True,
            lowercase=False,
        )
        features = hstack(
            [
                chars.fit_transform([_chars(m) for m in examples]),
                words.fit_transform([_words(m) for m in examples]),
            ]
        ).tocsr()
        model = LogisticRegression(
            C=self.config["C"], max_iter=self.config["max_iter"], class_weight="balanced"
        )
        model.fit(features, [m.get(INTENT) for m in examples])
        self.parts = {"chars": chars, "words": words, "model": model}
        with self._model_storage.write_to(self._resource) as folder:
            _skops_io().dump(self.parts, folder / MODEL_FILE)
        return self._resource

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> LinearIntentClassifier:
        sio = _skops_io()
        with model_storage.read_from(resource) as folder:
            path = folder / MODEL_FILE
            unexpected = set(sio.get_untrusted_types(file=path)) - EXPECTED_TYPES
            if unexpected:
                raise UnexpectedModelContent(
                    f"{path} holds types this classifier never saves: {sorted(unexpected)}"
                )
            parts = sio.load(path, trusted=sorted(EXPECTED_TYPES))
        return cls(config, model_storage, resource, parts)

    def _features(self, messages: list[Message]) -> csr_matrix:
        """The two TF-IDF views side by side, as the vectorizers' ``transform`` gives them."""
        if self._views is None:
            assert self.parts is not None
            self._views = (TfidfView(self.parts["chars"]), TfidfView(self.parts["words"]))
        chars, words = self._views
        columns: list[np.ndarray] = []
        values: list[np.ndarray] = []
        for message in messages:
            for part in (chars.row(_chars(message)), words.row(_words(message), chars.width)):
                columns.append(part[0])
                values.append(part[1])
        ends = np.cumsum([0] + [len(c) for c in columns])[::2]  # two parts a message
        return csr_matrix(
            (np.concatenate(values), np.concatenate(columns), ends),
            shape=(len(messages), chars.width + words.width),
        )

    def probabilities(self, features: csr_matrix) -> np.ndarray:
        """``predict_proba`` of the multinomial model, without its cost per call.

        scikit-learn multiplies by ``coef_.T``, a strided view of a 32 × 100k
        matrix that is copied on every call (7.5 ms a message, the whole rest of
        the parse being ~10); the transposed weights are made contiguous once.
        A test holds this to ``predict_proba`` on every test-split text.
        """
        assert self.parts is not None
        model: LogisticRegression = self.parts["model"]
        if len(model.classes_) < 3:  # two intents: a binary model, one weight row
            return model.predict_proba(features)
        if self._weights is None:
            self._weights = np.ascontiguousarray(model.coef_.T)
        return softmax(features @ self._weights + model.intercept_, axis=1)

    def process(self, messages: list[Message]) -> list[Message]:
        if self.parts is None or not messages:
            return messages
        model: LogisticRegression = self.parts["model"]
        probabilities = self.probabilities(self._features(messages))
        names = [str(name) for name in model.classes_]
        keep = self.config["ranking_length"] or len(names)
        for message, row in zip(messages, probabilities, strict=True):
            order = np.argsort(-row)[:keep]
            ranking = [{"name": names[i], "confidence": float(row[i])} for i in order]
            message.set(INTENT, ranking[0], add_to_output=True)
            message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)
        return messages
