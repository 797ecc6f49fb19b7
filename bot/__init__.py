"""Advisor Copilot (顾问助手): domain code behind the Rasa assistant.

Everything here is plain Python: the card store, the Chinese NLU helpers, the
payload contract and the channels. The thin rasa-sdk adapters live in
``actions/``; the core never imports rasa-sdk so it can be tested and reused
without an action server.
"""
