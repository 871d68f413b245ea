"""Point agents at OmniRoute directly, by writing their own settings files (no interception).

Each writer (``writers``) merges a few keys into one agent's settings, takes a backup first
(``backups``), writes atomically and can read the state back and reset it. The files are found
under a home directory passed in, never read from the environment here, so tests and the
server choose it. Parsing and merging per file format is in ``formats``; the per-tool API keys
that attribute direct calls to their agent are in ``keys``.
"""
