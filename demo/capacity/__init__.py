"""The capacity model (docs/scaling.md) and the row sizes it reads."""
