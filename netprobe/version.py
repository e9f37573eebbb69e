"""The version of netprobe: here alone, read by the package, the CLI, every result row and the build."""

__version__ = "0.1.0"
