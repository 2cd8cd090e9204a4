"""Personal-Link (issue 6): residents' data, consents enforced in every read, the data tracker.

The storage side of enforcement lives in `cityos.storage`; this package decides who reads what.
"""
