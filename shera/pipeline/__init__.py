"""The pipeline language: load YAML safely, read it into a spec, lint it, and compile it into a Plan."""
