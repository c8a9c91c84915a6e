"""Pure-Python training and evaluation engine (no Django imports)."""
