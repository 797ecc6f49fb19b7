"""Rasa graph components for Chinese: a clean jieba tokenizer and a rule entity extractor.

Both persist what they need inside the trained model (the user dictionary, the
name lexicon, the spaCy pipeline), so a model archive runs without the data/
folder beside it.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import jieba
import spacy
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.nlu.tokenizers.jieba_tokenizer import JiebaTokenizer
from rasa.nlu.tokenizers.tokenizer import Token, Tokenizer
from rasa.shared.nlu.constants import ENTITIES, ENTITY_ATTRIBUTE_TYPE, EXTRACTOR, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from spacy.language import Language

from bot.nlu import dictionary, entity_ruler
from bot.nlu.vocabulary import load_vocabulary
from bot.paths import project_root

CLIENT_NAME = entity_ruler.CLIENT_NAME
# Trained extractors whose entities this ruler reconciles with its own.
MODEL_EXTRACTORS = {"DIETClassifier"}


def _project_path(configured: str) -> Path:
    path = Path(configured)
    return path if path.is_absolute() else project_root() / path


def _name_lexicon(config: dict[str, Any]) -> entity_ruler.NameLexicon:
    folder = _project_path(config["dictionary_path"])
    return entity_ruler.build_lexicon(
        load_vocabulary(_project_path(config["vocabulary_path"])),
        folder / dictionary.NAMES_FILE,
        dictionary.dictionary_words(folder),
    )


def _align(tokens: list[Token], spans: list[entity_ruler.Span], text: str) -> list[Token]:
    """Tokens cut at every span's edges, and each span one token of its own."""
    if not spans:
        return tokens
    edges = sorted({edge for span in spans for edge in span})
    pieces: list[Token] = []
    for token in tokens:
        start = token.start
        for edge in (e for e in edges if token.start < e < token.end):
            pieces.append(Token(text[start:edge], start))
            start = edge
        pieces.append(Token(text[start : token.end], start))
    aligned: list[Token] = []
    for piece in pieces:
        span = next((s for s in spans if s[0] <= piece.start and piece.end <= s[1]), None)
        if span is None:
            aligned.append(piece)
        elif not aligned or aligned[-1].start != span[0]:
            aligned.append(Token(text[span[0] : span[1]], span[0]))
    return aligned


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=True)
class CleanJiebaTokenizer(JiebaTokenizer):
    """Rasa's JiebaTokenizer without its whitespace tokens, with names kept whole.

    Rasa's tokenizer keeps the spaces of mixed text (看 LV 的包 → 看/ /LV/ /的/包),
    which become features of their own and blur intent classification. And jieba
    cuts names across token edges (Amy|孙说, 陈太说), so a name span could never
    be a run of whole tokens; every name the rules find by its shape becomes one
    token, which the entity model then labels whole.
    """

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        lexicon: entity_ruler.NameLexicon | None = None,
    ) -> None:
        super().__init__(config, model_storage, resource)
        self._lexicon = lexicon

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            **JiebaTokenizer.get_default_config(),
            "dictionary_path": "data/dict",
            "vocabulary_path": "data/entities/vocabulary.yml",
            # jieba's HMM joins characters it has no word for, often into a whole
            # name (刘洋); without it they stay single characters.
            "hmm": True,
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
        return cls(config, model_storage, resource, _name_lexicon(config))

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
            lexicon = entity_ruler.NameLexicon.load(Path(folder))
        return cls(config, model_storage, resource, lexicon)

    def persist(self) -> None:
        source = _project_path(self._config["dictionary_path"])
        with self._model_storage.write_to(self._resource) as folder:
            for path in dictionary.dictionary_files(source):
                shutil.copy2(path, Path(folder) / path.name)
            if self._lexicon is not None:
                self._lexicon.save(Path(folder))

    def tokenize(self, message: Message, attribute: str) -> list[Token]:
        text = message.get(attribute)
        words = jieba.tokenize(text, HMM=self._config["hmm"])
        tokens = self._apply_token_pattern(
            [Token(word, start) for word, start, _ in words if word.strip()]
        )
        if self._lexicon is None or attribute != TEXT:
            return tokens
        return _align(tokens, entity_ruler.find_names(self._lexicon, text), text)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=True)
class SpacyEntityRuler(GraphComponent, EntityExtractorMixin):
    """Client names by their shape, preference categories and products, by rule.

    It runs after the entity model: names the rules find by their shape win, and
    the model's client_name spans are kept where they overlap none of them and
    are no pronoun (full names such as 张伟, which have no shape to match). The
    model's other entity types are dropped; the vocabulary's cue and product
    lists decide those.
    """

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
        lexicon: entity_ruler.NameLexicon | None = None,
    ) -> None:
        self._config = config
        self._model_storage = model_storage
        self._resource = resource
        self._nlp = nlp
        self._lexicon = lexicon

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
        self._nlp = entity_ruler.build_pipeline(vocabulary)
        self._lexicon = _name_lexicon(self._config)
        with self._model_storage.write_to(self._resource) as folder:
            self._nlp.to_disk(Path(folder) / self.PIPELINE_FOLDER)
            self._lexicon.save(Path(folder))
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
            lexicon = entity_ruler.NameLexicon.load(Path(folder))
        return cls(config, model_storage, resource, nlp, lexicon)

    def process(self, messages: list[Message]) -> list[Message]:
        if self._nlp is None or self._lexicon is None:
            return messages
        for message in messages:
            text = message.get(TEXT)
            if not text:
                continue
            found = entity_ruler.extract(self._nlp, self._lexicon, text)
            earlier = message.get(ENTITIES, [])
            others = [e for e in earlier if e.get(EXTRACTOR) not in MODEL_EXTRACTORS]
            model_names = [
                e
                for e in earlier
                if e.get(EXTRACTOR) in MODEL_EXTRACTORS and e[ENTITY_ATTRIBUTE_TYPE] == CLIENT_NAME
            ]
            rule_names = [(e.start, e.end) for e in found if e.label == CLIENT_NAME]
            kept = entity_ruler.merge_names(
                self._lexicon, rule_names, [(e["start"], e["end"]) for e in model_names], text
            )
            # The model's names as it marked them; the ones tidied here become ours.
            as_marked = {(e["start"], e["end"]): e for e in model_names}
            from_model = [as_marked[span] for span in kept if span in as_marked]
            tidied = [span for span in kept if span not in as_marked and span not in rule_names]
            ours = [
                {
                    "entity": e.label,
                    "start": e.start,
                    "end": e.end,
                    "value": e.value,
                    "confidence_entity": 1.0,
                }
                for e in found
            ] + [
                {
                    "entity": CLIENT_NAME,
                    "start": start,
                    "end": end,
                    "value": text[start:end],
                    "confidence_entity": max(
                        (
                            e.get("confidence_entity", 1.0)
                            for e in model_names
                            if e["start"] < end and start < e["end"]
                        ),
                        default=1.0,
                    ),
                }
                for start, end in tidied
            ]
            entities = others + from_model + self.add_extractor_name(ours)
            message.set(ENTITIES, sorted(entities, key=lambda e: e["start"]), add_to_output=True)
        return messages
