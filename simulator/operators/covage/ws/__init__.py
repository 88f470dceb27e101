"""The SOAP wire format of Covage's web services (spyne): names, namespaces, messages and faults.

The domain (order_help.py, sav.py) answers plain dicts and raises domain errors; these modules turn them
into SOAP 1.1 document/literal messages. The HTTP transport serves them behind its guard.
"""
