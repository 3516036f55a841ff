"""Tests of `scenarios/`: the catalog and the real-mode runner (stack, player, collectors)."""
