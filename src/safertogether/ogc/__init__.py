"""OGC API - Features (Part 1 Core with GeoJSON and OpenAPI 3.0; Part 2 CRS by reference; Part 3 queryables).

The warehouse as a feature service QGIS, ArcGIS and GDAL open from its URL: collections as data
(:mod:`.collections`), parameters validated together (:mod:`.query`, :mod:`.months`), keyset-paged items
(:mod:`.items`), coordinates in CRS84 or British National Grid (:mod:`.crs`), and the JSON documents
(:mod:`.documents`, :mod:`.openapi`). :mod:`.service` turns requests into bytes; the API's routes only
send them.
"""
