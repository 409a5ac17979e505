"""The command line on top: wires the stages together (``demo``) or runs one alone."""
