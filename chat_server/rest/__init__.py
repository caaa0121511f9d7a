"""HTTP transport glue: parse and validate, call a handler, translate errors. Thin."""
