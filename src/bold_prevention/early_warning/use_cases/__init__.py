"""Early-warning use cases shipped with the package (one YAML file each)."""
