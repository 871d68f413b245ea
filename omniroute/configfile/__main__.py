"""`python -m omniroute.configfile`: rewrite the published JSON Schema after a model changed."""

from __future__ import annotations

import json

from omniroute.configfile import schema_path
from omniroute.configfile.schema import json_schema

schema_path().write_text(json.dumps(json_schema(), indent=2) + "\n")
print(f"wrote {schema_path()}")
