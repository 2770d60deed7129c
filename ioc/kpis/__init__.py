"""Indicators per domain and district: what the API's ``/api/v1/kpis`` serves and the
GOC report carries (:func:`ioc.kpis.figures.compute`)."""
