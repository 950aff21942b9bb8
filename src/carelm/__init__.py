"""carelm: an offline-first clinical language-model platform."""

__version__ = "0.1.0"
