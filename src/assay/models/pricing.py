"""Moved to `assay.pricing` (analysis and metrics price runs too); kept for imports."""

from assay.pricing import PRICES_ENV, Price, PriceTable, base_model, cost, price_table

__all__ = ["PRICES_ENV", "Price", "PriceTable", "base_model", "cost", "price_table"]
