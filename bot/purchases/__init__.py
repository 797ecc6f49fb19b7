"""Purchases: imported from store exports, the base of RFM segments and membership KPIs."""
