"""Follow-ups: tasks made from cards, visit notes and complaints, reminded through WeCom."""
