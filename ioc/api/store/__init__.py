"""Read models behind the API: the queries routes run, one module per resource."""
