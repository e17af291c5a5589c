"""Typed read queries over the cache: the screens' SQL files, contract windows, counts and the
grid engine. No Flask here: the web layer calls these."""
