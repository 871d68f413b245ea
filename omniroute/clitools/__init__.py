"""Point agents at OmniRoute directly, by writing their own settings files (no interception).

Each writer (``writers``, ``codex``, ``gemini``) merges a few keys into one agent's settings,
takes a backup first (``backups``), writes atomically and can read the state back and reset it.
Writers take the home directory as a parameter, so tests and the server choose it; parsing and
merging per file format is in ``formats``. ``service`` holds the operations the API, the CLI and
the Agents page share (the server's user's HOME is read there). The per-tool API keys that
attribute direct calls to their agent are made by ``omniroute.api.tool_keys``.
"""
