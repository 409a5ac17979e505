"""The commands of ``crisiswatch``, by area; ``crisiswatch.cli`` gathers them."""
