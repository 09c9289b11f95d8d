"""Fault-injection tests (reliability-notes §5, R1-R12): each injects its fault by pid and
prints its figures; ``make faults`` runs the full sizes and prints one table."""
