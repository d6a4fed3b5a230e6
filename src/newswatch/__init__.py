"""newswatch: watch energy-industry news, store every story once, flag what your rules select."""

__version__ = "0.1.0"
