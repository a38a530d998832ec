"""Return templates: each body's own return, filled from the one publication of a provider.

The contract (periods, which records fill a return, the expression input, field statuses) is
described in the returns guide; `fill` (one service) and `fill_many` (several, one worker kept
busy) are the one way a return is filled, offline or on a server.
"""

from care_exchange_standard.returns.filling import (
    FieldResult,
    FilledReturn,
    ReturnRequest,
    fill,
    fill_many,
)
from care_exchange_standard.returns.periods import Period, PeriodError, parse_period
from care_exchange_standard.returns.sandbox import Limits, SandboxPool
from care_exchange_standard.returns.templates import (
    Template,
    TemplateError,
    TemplateProblem,
    check_template,
    load_template,
    shipped_templates,
    template_coverage,
)

__all__ = [
    "FieldResult",
    "FilledReturn",
    "Limits",
    "Period",
    "PeriodError",
    "ReturnRequest",
    "SandboxPool",
    "Template",
    "TemplateError",
    "TemplateProblem",
    "check_template",
    "fill",
    "fill_many",
    "load_template",
    "parse_period",
    "shipped_templates",
    "template_coverage",
]
