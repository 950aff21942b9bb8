"""Entry point for ``python -m carelm.synth``."""

from .generator import main

raise SystemExit(main())
