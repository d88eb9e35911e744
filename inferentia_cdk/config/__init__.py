"""The config contract: pydantic models (the YAML file and the Python API alike) and the problems found in them."""
