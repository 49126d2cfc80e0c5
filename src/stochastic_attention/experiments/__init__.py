"""Experiment kinds: the plug-in registry (:mod:`.base`) and one module per built-in kind."""
