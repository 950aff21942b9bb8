"""``python -m carelm`` runs the command line."""

from carelm.cli.main import app

app(prog_name="carelm")
