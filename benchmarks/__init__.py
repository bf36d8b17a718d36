"""The course's benchmark: its in-memory data path against the classic d2l path.

Run it with ``python -m benchmarks.run`` (``make bench``); see ``benchmarks/README.md``.
"""
