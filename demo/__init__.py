"""Demo data for the Playbook demo: a text corpus in ``demo/corpus/`` and the seeded generator that uses it."""
