"""The figures of the scores page, each defined once (figures.py), and what keeps them fast and exact."""
