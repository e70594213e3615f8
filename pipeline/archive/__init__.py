"""The Parquet archive: closed days of the hot tables on S3-compatible storage.

ClickHouse moves the rows (``INSERT INTO FUNCTION s3(...)`` out, ``INSERT ... SELECT FROM s3(...)``
back); this package plans, records and checks. One day of one table is one piece,
``<prefix>/<table>/date=YYYY-MM-DD/part-0.parquet``, sorted by symbol and time, zstd.

Modules: :mod:`.tables` (what is archived), :mod:`.store` (where, and the ``s3()`` arguments),
:mod:`.manifest` (the ops tables), :mod:`.export` (archive and verify a day), :mod:`.retention`
(drop verified days), :mod:`.restore` (put days back), :mod:`.views` (the read path), and
:mod:`.job` (every closed day, as ``tickwatch archive run`` does it).
"""
