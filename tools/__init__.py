"""Project tooling that is not part of the runtime packages (documentation generators)."""
