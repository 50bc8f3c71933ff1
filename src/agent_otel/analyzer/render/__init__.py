"""Report renderers: terminal (rich), JSON (versioned schema), self-contained HTML."""
