"""How dates and numbers are written, per language, where Django's own formats do not suit.

`FORMAT_MODULE_PATH` points here; a format not set in these modules is Django's. Both
languages write one date format everywhere (the short ones included, so no "12/07/2026"
that reads differently on each side of the Atlantic), a 24-hour time (so no "p.m." whose
full stop doubles at the end of a sentence), and digits grouped in threes.
"""
