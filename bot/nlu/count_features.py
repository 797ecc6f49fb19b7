"""The character n-gram features of a message, built straight into Rasa's matrices.

Rasa's ``CountVectorsFeaturizer`` featurizes a message with two calls of
scikit-learn's ``CountVectorizer.transform`` (one row per token, then one for
the whole text), each building a CSR matrix, sorting it and converting it to
the COO matrix Rasa keeps: 0.67 ms a message, most of it the library's checks
and conversions rather than counting (the featurizer was 15 % of the NLU
service's CPU a turn at 16 advisors, py-spy, GIL samples). The same counts,
with the vectorizer's own analyzer and vocabulary, go here straight into the
COO matrix: 0.34 ms. Same rows, columns, order, values and dtypes
(``tests/test_nlu_service.py`` compares them with Rasa's on every test-split
message).

Installed by the NLU service on the loaded featurizer instance only (training
and evaluation run Rasa's own); an attribute whose vectorizer this does not
reproduce exactly (not fitted, binary counts, another class) keeps Rasa's way.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import scipy.sparse
from rasa.nlu.constants import DENSE_FEATURIZABLE_ATTRIBUTES
from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import (
    CountVectorsFeaturizer,
)
from sklearn.feature_extraction.text import CountVectorizer

# scipy ships no type information: a COO matrix is just Any to mypy.
Matrix = Any


def _reproducible(vectorizer: Any) -> bool:
    return (
        type(vectorizer) is CountVectorizer
        and not vectorizer.binary
        and hasattr(vectorizer, "vocabulary_")
    )


class CountRows:
    """``CountVectorizer.transform(documents).tocoo()`` with sorted indices, for a
    fitted vectorizer: the analyzer and vocabulary taken once."""

    def __init__(self, vectorizer: CountVectorizer) -> None:
        self._analyze: Callable[[str], list[str]] = vectorizer.build_analyzer()
        self._vocabulary: dict[str, int] = vectorizer.vocabulary_
        self._dtype = vectorizer.dtype
        self._width = len(self._vocabulary)

    def __call__(self, documents: Sequence[str]) -> Matrix:
        rows: list[int] = []
        columns: list[int] = []
        counts: list[int] = []
        vocabulary = self._vocabulary
        for row, document in enumerate(documents):
            found: dict[int, int] = {}
            for feature in self._analyze(document):
                index = vocabulary.get(feature)
                if index is not None:
                    found[index] = found.get(index, 0) + 1
            for index in sorted(found):
                rows.append(row)
                columns.append(index)
                counts.append(found[index])
        return scipy.sparse.coo_matrix(
            (
                np.asarray(counts, dtype=self._dtype),
                (np.asarray(rows, dtype=np.int32), np.asarray(columns, dtype=np.int32)),
            ),
            shape=(len(documents), self._width),
        )


def install_count_rows(featurizer: CountVectorsFeaturizer) -> bool:
    """Give ``featurizer`` the direct feature building for every attribute whose fitted
    vectorizer it reproduces (the others keep Rasa's); False if there is none."""
    builders = {
        attribute: CountRows(vectorizer)
        for attribute, vectorizer in (featurizer.vectorizers or {}).items()
        if _reproducible(vectorizer)
    }
    if not builders:
        return False

    def _create_features(
        self: CountVectorsFeaturizer, attribute: str, all_tokens: list[list[str]]
    ) -> tuple[list[Matrix | None], list[Matrix | None]]:
        build = builders.get(attribute)
        if build is None:
            return CountVectorsFeaturizer._create_features(self, attribute, all_tokens)
        dense = attribute in DENSE_FEATURIZABLE_ATTRIBUTES
        sequence: list[Matrix | None] = []
        sentence: list[Matrix | None] = []
        for tokens in all_tokens:
            if not tokens:
                sequence.append(None)
                sentence.append(None)
                continue
            sequence.append(build(tokens))
            sentence.append(build([" ".join(tokens)]) if dense else None)
        return sequence, sentence

    featurizer._create_features = types.MethodType(_create_features, featurizer)
    return True
