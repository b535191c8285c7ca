"""The IDENT (SQL Server) side: schema, windowed extract, demo clinic generator."""
