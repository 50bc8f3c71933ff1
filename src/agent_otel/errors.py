"""The one error family: every error agent-otel raises on purpose derives from `AgentOtelError`.

Callers that branch on a kind of failure catch a typed subclass (`EmptyWindowError`), never match a
message. Each class keeps the builtin base it had (ValueError for bad input, RuntimeError for a
failed operation) so existing `except ValueError` code still catches it; the modules that raise them
re-export them under their old import paths.
"""

from __future__ import annotations


class AgentOtelError(Exception):
    """Base of every error agent-otel raises on purpose; the message says what and where."""


class ConfigError(AgentOtelError, ValueError):
    """A configuration value is wrong; the message names the option and the value."""


class SourceError(AgentOtelError, RuntimeError):
    """A source could not answer: unreachable, malformed answer, unknown service. Message says which."""


class NoDataError(SourceError):
    """The source has nothing to read yet: the CLI answers with where data was last written."""


class EmptyWindowError(NoDataError):
    """The source answered, but no span fell in the window: no data, which alerting treats as calm."""


class StoreNotFoundError(NoDataError):
    """The local store file named does not exist yet; the message says how one gets written."""


class PriceError(AgentOtelError, ValueError):
    """A price file is wrong; the message names the file and the entry."""


class RuleError(AgentOtelError, ValueError):
    """A rule file is wrong; the message names the file, the rule and the field."""


class ReceiverError(AgentOtelError, ValueError):
    """A notification receiver is misconfigured or refused a delivery; the message names it."""


class StackError(AgentOtelError, RuntimeError):
    """The stack could not start or stop; the message names the program and its log file."""


class BuildError(AgentOtelError, RuntimeError):
    """A program could not be built; the message names it and the log file with go's output."""


class ModelError(AgentOtelError, ValueError):
    """The model file or its inputs are not usable; the message says which and why."""


class BudgetExceeded(AgentOtelError, RuntimeError):
    """An admission was refused; the message names the agent, the resource and the limit."""
