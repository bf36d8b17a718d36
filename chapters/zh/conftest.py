"""nbval does not execute the Chinese notebooks a second time.

``chapters/zh/NAME.ipynb`` is ``chapters/NAME.ipynb`` with translated Markdown: the same code
cells with the same stored outputs, which ``tests/test_i18n.py`` checks. Running them under
nbval would only repeat the English chapters' run.
"""

collect_ignore_glob = ["*.ipynb"]
