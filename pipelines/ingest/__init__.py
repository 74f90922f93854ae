"""Getting events and entities into the Postgres event log: bulk COPY, file ingest, dataset adapters."""
