"""Covage-style FTTH OI: Protocole Accès 1.2 (and, later, PM 2.2, SAV and order-help web services)."""
