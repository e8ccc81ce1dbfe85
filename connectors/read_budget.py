"""Monthly read cap and cost accounting, as a pure object the worker and the console share.

X bills every post read and enforces a monthly cap.  The caller says how many reads the month has
used so far (storage counts them); :class:`ReadBudget` says how many may be read now, what they
cost, and stops fetching at the cap with a message a human understands, rather than failing silently.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from connectors.base import BudgetExhaustedError, utc


@dataclass(frozen=True, slots=True)
class ReadBudget:
    """A monthly cap on billed reads and the price of one read.

    Attributes:
        monthly_cap: Reads allowed per calendar month (UTC); ``None`` means no cap.
        price_per_read: What one read costs, in ``currency``.
        currency: Shown beside estimated costs.
        warn_at: Fraction of the cap at which :meth:`warning` starts speaking up.
        service: The platform's name, for messages.
    """

    monthly_cap: int | None
    price_per_read: Decimal = Decimal("0")
    currency: str = "USD"
    warn_at: float = 0.8
    service: str = "X"

    def __post_init__(self) -> None:
        if self.monthly_cap is not None and self.monthly_cap < 0:
            raise ValueError("monthly_cap: must be ≥ 0 or None")
        if self.price_per_read < 0:
            raise ValueError("price_per_read: must be ≥ 0")
        if not 0 < self.warn_at <= 1:
            raise ValueError("warn_at: must be in (0, 1]")

    def remaining(self, used: int) -> int | None:
        """Reads left this month (never negative); ``None`` when there is no cap."""
        if self.monthly_cap is None:
            return None
        return max(0, self.monthly_cap - max(0, used))

    def allowance(self, used: int, wanted: int) -> int:
        """How many of ``wanted`` reads may be made now.

        Raises:
            BudgetExhaustedError: The cap is reached; the message says so in plain words.
        """
        left = self.remaining(used)
        if left is None:
            return max(0, wanted)
        if left == 0:
            raise BudgetExhaustedError(self.exhausted_message(used))
        return max(0, min(wanted, left))

    def cost(self, reads: int) -> Decimal:
        """Estimated cost of ``reads`` reads."""
        return self.price_per_read * max(0, reads)

    def format_cost(self, reads: int) -> str:
        """The estimated cost as text, e.g. ``"12.50 USD"``."""
        return f"{self.cost(reads).quantize(Decimal('0.01'))} {self.currency}"

    def exhausted_message(self, used: int) -> str:
        """The plain-words reason fetching stopped."""
        return (
            f"{self.service} monthly read cap reached: {used:,} of {self.monthly_cap:,} reads used "
            f"(about {self.format_cost(used)}). Fetching is paused until next month "
            "or until the cap is raised in the config."
        )

    def warning(self, used: int) -> str | None:
        """A visible warning once usage passes ``warn_at`` of the cap, else ``None``."""
        if self.monthly_cap is None or self.monthly_cap == 0:
            return None if self.monthly_cap is None else self.exhausted_message(used)
        if used >= self.monthly_cap:
            return self.exhausted_message(used)
        if used >= self.warn_at * self.monthly_cap:
            share = used / self.monthly_cap
            return (
                f"{self.service} reads at {share:.0%} of the monthly cap: {used:,} of "
                f"{self.monthly_cap:,} used (about {self.format_cost(used)})"
            )
        return None


def budget_month(when: datetime) -> str:
    """The billing month a read belongs to, as ``YYYY-MM`` in UTC (the key storage counts by)."""
    return utc(when).strftime("%Y-%m")
