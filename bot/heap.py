"""Keep the garbage collector's full passes off the loaded model.

Once a model is loaded, a Rasa process (or the NLU service) holds about 600,000
long-lived objects: TensorFlow, spaCy, the graph components. CPython's full
collection walks all of them, which takes about a third of a second on a 2-core
machine, and it starts on its own whenever enough new objects have survived:
every advisor's turn in flight then waits. Those objects live as long as the
process, so once loaded they are moved to the permanent generation, which
collections skip (``gc.freeze``); what turns allocate later is collected as usual.
"""

from __future__ import annotations

import gc


def freeze_loaded_objects() -> None:
    """Collect what loading left behind, then exempt the survivors from collection."""
    gc.collect()
    gc.freeze()
