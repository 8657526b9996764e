"""The only code that reads files: strict YAML, CSV and JSON readers that resolve every id into
specification objects before the core runs."""
