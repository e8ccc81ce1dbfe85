"""Reputation dashboards: filters, the hourly rollup and the reads each page makes."""
