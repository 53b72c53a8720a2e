"""CBS file catalogue and readers: logical tables → newest file versions → logical columns."""

from inburgering.cbs.catalogue import Catalogue, ResolvedFile, TableSpec
from inburgering.cbs.readers import file_columns, read_file, read_table

__all__ = ["Catalogue", "ResolvedFile", "TableSpec", "file_columns", "read_file", "read_table"]
