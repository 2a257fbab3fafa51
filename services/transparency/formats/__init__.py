"""The Shafaf datasets in the formats integrators already read. Each module is pure (no I/O) and
streams: it takes an iterable of rows and yields bytes chunks, so memory does not grow with the rows.

- csv_stream: CSV, UTF-8 with a BOM (Excel opens Persian correctly), RFC 4180.
- json_stream: {"dataset": <metadata>, "rows": [...]}.
- ocds: contracts as an OCDS 1.1 release package (schemas in contracts/ocds/).
- fiscal: the budget as a Fiscal Data Package (datapackage.json) for frictionless.
- dcat: the catalogue of every dataset as DCAT-AP in JSON-LD, with an inline @context.
- values: how a cell is written (dates, Decimals) and `project`, a row cut to its dataset's columns.

A row is written through its dataset's columns only: a key the catalogue does not list (a national ID
left in a dict by mistake) never reaches a download.
"""
