"""editions: a scheduled news-ingestion and archival worker.

The packages beside this one hold the architecture: ``schedules`` decides when,
``worker`` does the work (fetch, extract, dedupe, version), ``storage`` keeps
the archive. This package holds what spans them: settings, the Python API the
CLI is a thin layer over, and the offline demo.
"""

__version__ = "0.1.0"
