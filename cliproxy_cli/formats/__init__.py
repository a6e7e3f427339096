"""Wire formats ↔ the IR: pure functions on dicts, no I/O, no config, no globals.

One module per wire format (``openai_chat``, ``openai_responses``, ``anthropic``, ``gemini``),
each with the ``WireFormat`` face of ``base.py``; ``registry.FORMATS`` maps ``Format`` to them.
"""
