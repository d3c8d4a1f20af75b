"""Test scaffolding shared by several test packages (not shipped in the wheel).

pytest puts ``tests/`` on ``sys.path`` (its packages sit under a directory without
``__init__.py``), so tests import this as ``scaffolding``.
"""
