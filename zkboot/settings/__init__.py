"""The start settings: their values' parsers, their declarations, and resolving them as a whole."""
