"""UAX-Link's service catalog: the town's services, notices from the town, usage metering.

One app for every service (the plan's UAX-Link): the resident app and the staff console read
this part's public functions; companies and residents read it over `/catalog/v1/…`.
"""
