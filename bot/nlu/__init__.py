"""Chinese language helpers: vocabulary, tokenizer, entity ruler and parsers."""
