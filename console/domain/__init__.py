"""Pure rules without a database session: SLA clocks, business hours, durations.

The config imports these to validate ``mentiondesk.toml``; services apply them inside transactions.
"""
