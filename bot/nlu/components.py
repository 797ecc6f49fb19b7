"""Rasa graph components for Chinese: a clean jieba tokenizer and a spaCy entity ruler.

Both persist what they need inside the trained model (the user dictionary and
the spaCy pipeline), so a model archive runs without the data/ folder beside it.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import spacy
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.nlu.tokenizers.jieba_tokenizer import JiebaTokenizer
from rasa.nlu.tokenizers.tokenizer import Token, Tokenizer
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from spacy.language import Language

from bot.nlu import dictionary, entity_ruler
from bot.nlu.vocabulary import load_vocabulary
from bot.paths import project_root


def _project_path(configured: str) -> Path:
    path = Path(configured)
    return path if path.is_absolute() else project_root() / path


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=True)
class CleanJiebaTokenizer(JiebaTokenizer):
    """Rasa's JiebaTokenizer without its whitespace tokens, plus honorific names.

    Rasa's tokenizer keeps the spaces of mixed text (看 LV 的包 → 看/ /LV/ /的/包),
    which become features of their own and blur intent classification.
    """

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            **JiebaTokenizer.get_default_config(),
            "dictionary_path": "data/dict",
            "vocabulary_path": "data/entities/vocabulary.yml",
        }

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> CleanJiebaTokenizer:
        folder = _project_path(config["dictionary_path"])
        dictionary.load_user_dictionaries(dictionary.dictionary_files(folder))
        dictionary.add_honorific_words(load_vocabulary(_project_path(config["vocabulary_path"])))
        return cls(config, model_storage, resource)

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> CleanJiebaTokenizer:
        with model_storage.read_from(resource) as folder:
            dictionary.load_user_dictionaries(dictionary.dictionary_files(Path(folder)))
        return cls(config, model_storage, resource)

    def persist(self) -> None:
        source = _project_path(self._config["dictionary_path"])
        vocabulary = load_vocabulary(_project_path(self._config["vocabulary_path"]))
        with self._model_storage.write_to(self._resource) as folder:
            for path in dictionary.dictionary_files(source):
                shutil.copy2(path, Path(folder) / path.name)
            dictionary.write_honorific_file(vocabulary, Path(folder))

    def tokenize(self, message: Message, attribute: str) -> list[Token]:
        return [token for token in super().tokenize(message, attribute) if token.text.strip()]


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=True)
class SpacyEntityRuler(GraphComponent, EntityExtractorMixin):
    """Extracts client names, preference categories and products with spaCy."""

    PIPELINE_FOLDER = "spacy_zh"

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            "vocabulary_path": "data/entities/vocabulary.yml",
            "dictionary_path": "data/dict",
        }

    @classmethod
    def required_components(cls) -> list[type]:
        # The tokenizer loads the jieba dictionary that spaCy's segmenter shares.
        return [Tokenizer]

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        nlp: Language | None = None,
    ) -> None:
        self._config = config
        self._model_storage = model_storage
        self._resource = resource
        self._nlp = nlp

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> SpacyEntityRuler:
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        vocabulary = load_vocabulary(_project_path(self._config["vocabulary_path"]))
        domain_words = set()
        for path in dictionary.dictionary_files(_project_path(self._config["dictionary_path"])):
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    domain_words.add(line.split()[0])
        self._nlp = entity_ruler.build_pipeline(vocabulary, domain_words)
        with self._model_storage.write_to(self._resource) as folder:
            self._nlp.to_disk(Path(folder) / self.PIPELINE_FOLDER)
        return self._resource

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> SpacyEntityRuler:
        with model_storage.read_from(resource) as folder:
            nlp = spacy.load(Path(folder) / cls.PIPELINE_FOLDER)
        return cls(config, model_storage, resource, nlp)

    def process(self, messages: list[Message]) -> list[Message]:
        if self._nlp is None:
            return messages
        for message in messages:
            text = message.get(TEXT)
            if not text:
                continue
            found = [
                {
                    "entity": e.label,
                    "start": e.start,
                    "end": e.end,
                    "value": e.value,
                    "confidence_entity": 1.0,
                }
                for e in entity_ruler.extract(self._nlp, text)
            ]
            message.set(
                ENTITIES,
                message.get(ENTITIES, []) + self.add_extractor_name(found),
                add_to_output=True,
            )
        return messages
