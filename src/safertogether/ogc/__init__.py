"""OGC API - Features (Part 1 Core with GeoJSON and OpenAPI 3.0; Part 2 CRS by reference; Part 3 queryables).

The warehouse as a feature service QGIS, ArcGIS and GDAL open from its URL:

- :mod:`.collections`: the collections as data (properties, queryables, attribution);
- :mod:`.query`, :mod:`.months`: an items request's parameters, validated together; ``datetime`` as months;
- :mod:`.items`: keyset paging in two steps over a :class:`~.plan.Plan`, made by :mod:`.points` (crimes,
  stop and search) or :mod:`.neighbourhoods` (LSOA polygons with counts and rates);
- :mod:`.crs`: CRS84 and British National Grid (EPSG:27700);
- :mod:`.documents`, :mod:`.openapi`: landing page, conformance, collections, queryables, OpenAPI 3.0;
- :mod:`.service`: requests to bytes and headers; the API's routes only send them.
"""
