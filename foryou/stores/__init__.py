"""The stores foryou talks to: configured Postgres/Redis URLs, else embedded servers from pip wheels."""

from foryou.stores.resolver import StoreUrls, ensure_stores, stop_embedded_stores, store_status

__all__ = ["StoreUrls", "ensure_stores", "store_status", "stop_embedded_stores"]
