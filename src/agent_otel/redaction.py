"""The one redaction policy: which secret shapes are masked in everything the process exports.

The default pattern set (provider API keys, bearer/basic credentials, credentials in URLs and
`key=value` assignments, private keys, JWTs, cloud access keys, card numbers) is defined here
once, with a name per pattern. The SDK applies it before export to every signal (see
`redacting_exporters`) and to captured content (`content.render`); the collector config's
`redaction` processor gets the same regular expressions, generated from this module by
`deploy/collector/sync_redaction.py` (a test checks they match). E-mail addresses are masked only
on request (`configure(redact_emails=True)` / AGENT_OTEL_REDACT_EMAILS), since an address is often
the very thing a trace is about. Users add their own with `configure(redact_patterns=...)`.

Every regular expression here is written in the common subset of Python's `re` and Go's RE2
(no look-arounds, no back-references, no `$`-anchors outside the attribute-key pattern), because
the collector compiles the same text. Each replacement is counted as `agent_otel.redactions`
by pattern name. Written by hand because no maintained library redacts OpenTelemetry data in the
Python SDK; the collector's processor only runs after the data has left the process.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from agent_otel import semconv, settings
from agent_otel._guard import report_internal_error
from agent_otel.self_counters import SelfCounter

REDACTED = "[REDACTED]"
FAILED = "[REDACTION FAILED]"
_TRUE = {"1", "true", "yes", "on"}
_CACHE_MAX_LEN = 512  # strings up to this length are memoised (names and attribute values repeat)


def _luhn(text: str) -> bool:
    digits = [int(c) for c in text if c.isdigit()]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return len(digits) >= 13 and total % 10 == 0


@dataclass(frozen=True)
class Pattern:
    """A named secret shape. Only its `secret` group is masked when it has one (the SDK keeps the
    key of `api_key=...`; the collector masks the whole match). `check` is an extra test the SDK
    applies to a match (Luhn for card numbers); the collector cannot, so it masks more there."""

    name: str
    regex: str
    what: str
    check: Callable[[str], bool] | None = None
    # Python-side speed-up only: the regex runs on a text only if one of these lower-case
    # substrings is in it (most text holds no secret, and a substring test is ~100x cheaper).
    hints: tuple[str, ...] = ()
    prefilter: Callable[[str], bool] | None = None  # or: the regex runs only where this says yes


# The value may not start with "[" or "*": that is a mask already ([REDACTED] here, **** in the
# collector), which a second pattern must not count or mask again.
_VALUE = r"""(?P<secret>[^\s"',;}\[*][^\s"',;}\[]{3,})"""
_SECRET = r"""["']?\s*[:=]\s*["']?""" + _VALUE

DEFAULT_PATTERNS: tuple[Pattern, ...] = (
    Pattern("private_key", r"-----BEGIN[A-Z ]*PRIVATE KEY-----(?:[A-Za-z0-9+/=\s:,.\\]|-[A-Za-z0-9])*(?:-----END[A-Z ]*PRIVATE KEY-----)?",
            "PEM private keys (RSA, EC, OpenSSH, PKCS#8), with or without their END line", hints=("private key-----",)),
    Pattern("anthropic_api_key", r"\bsk-ant-[A-Za-z0-9_\-]{20,}", "Anthropic API keys (sk-ant-...)", hints=("sk-ant-",)),
    Pattern("openai_api_key", r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,}", "OpenAI API keys (sk-..., sk-proj-...)", hints=("sk-",)),
    Pattern("github_token", r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{40,})", "GitHub tokens (ghp_, gho_, ghs_, github_pat_...)", hints=("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_")),
    Pattern("slack_token", r"\bxox[abposr]-[A-Za-z0-9\-]{10,}", "Slack tokens (xoxb-, xoxp-...)", hints=("xox",)),
    Pattern("stripe_key", r"\b[rs]k_(?:live|test)_[A-Za-z0-9]{16,}", "Stripe secret and restricted keys", hints=("k_live_", "k_test_")),
    Pattern("huggingface_token", r"\bhf_[A-Za-z0-9]{30,}", "Hugging Face tokens (hf_...)", hints=("hf_",)),
    Pattern("google_api_key", r"\bAIza[0-9A-Za-z_\-]{35}", "Google Cloud / Gemini API keys (AIza...)", hints=("aiza",)),
    Pattern("aws_access_key_id", r"\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b", "AWS access key ids", hints=("akia", "asia", "abia", "acca")),
    Pattern("jwt", r"\beyJ[A-Za-z0-9_\-]{4,}\.eyJ[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]*", "JSON Web Tokens", hints=("eyj",)),
    Pattern("url_credentials", r"(?i)\b[a-z][a-z0-9+.\-]*://[^\s/:@]+:(?P<secret>[^\s/@]+)@",
            "the password in scheme://user:password@host", hints=("://",)),
    Pattern("authorization_header", r"(?i)\b(?:proxy-)?authorization" r"""["']?\s*[:=]\s*["']?(?:(?:basic|bearer|digest|token|apikey)\s+)?""" + _VALUE,
            "the credential of an Authorization header written as text", hints=("authorization",)),
    Pattern("bearer_credential", r"(?i)\bbearer\s+[A-Za-z0-9._~+/\-]{8,}=*", "Bearer tokens", hints=("bearer",)),
    Pattern("basic_credential", r"\bBasic\s+[A-Za-z0-9+/]{3,}[A-Z0-9+/][A-Za-z0-9+/]{3,}={0,2}", "HTTP Basic credentials (base64 user:password)", hints=("basic",)),
    Pattern("credential_assignment",
            r"(?i)(?:api[_\-]?key|secret[_\-]?access[_\-]?key|secret[_\-]?key|access[_\-]?key|account[_\-]?key|client[_\-]?secret|"
            r"access[_\-]?token|refresh[_\-]?token|auth[_\-]?token|secret|password|passwd|token)" + _SECRET,
            "the value of api_key=, password:, token=, secret=, aws_secret_access_key= ... (key kept)", hints=("key", "secret", "passw", "token")),
    Pattern("card_number",
            r"\b(?:(?:4[0-9]{3}|5[1-5][0-9]{2}|2[2-7][0-9]{2}|6(?:011|5[0-9]{2}))(?:[ \-]?[0-9]{4}){3}|3[47][0-9]{2}[ \-]?[0-9]{6}[ \-]?[0-9]{5})\b",
            "payment card numbers (Visa, Mastercard, Amex, Discover; the SDK also checks Luhn)", _luhn,
            prefilter=lambda text: sum(map(text.count, "0123456789")) >= 13),
)

EMAIL_PATTERN = Pattern("email", r"\b[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}\b",
                        "e-mail addresses (opt-in: configure(redact_emails=True) or AGENT_OTEL_REDACT_EMAILS=true)", hints=("@",))

# Attributes whose *key* names a credential are masked whole, whatever the value looks like.
KEY_PATTERN = Pattern("credential_attribute",
                      r"(?i)(?:^|[._\-])(?:password|passwd|secret|api[_\-]?key|access[_\-]?key|private[_\-]?key|authorization|cookie|token)$",
                      "attributes whose key names a credential (…password, …api_key, …authorization, …token, …cookie)")


def user_patterns(extra: Sequence[str] | Mapping[str, str] | None) -> list[Pattern]:
    """The user's patterns: a list of regexes (named custom_0, custom_1, ...) or a name -> regex map."""
    if not extra:
        return []
    items = extra.items() if isinstance(extra, Mapping) else ((f"custom_{i}", r) for i, r in enumerate(extra))
    out = []
    for name, regex in items:
        if not isinstance(regex, str):
            raise ValueError(f"redact pattern {name!r}: expected a regular expression string, got {type(regex).__name__}")
        out.append(Pattern(str(name), regex, "user pattern"))
    return out


def patterns_for(extra: Sequence[str] | Mapping[str, str] | None = (), *, emails: bool = False) -> list[Pattern]:
    """Default patterns, then e-mail (when asked), then the user's: the order they are applied in."""
    return [*DEFAULT_PATTERNS, *([EMAIL_PATTERN] if emails else []), *user_patterns(extra)]


class Policy:
    """Compiled patterns and the code that applies them; never raises (a failure masks the value)."""

    def __init__(self, patterns: Iterable[Pattern] = DEFAULT_PATTERNS, key_pattern: Pattern | None = KEY_PATTERN) -> None:
        self.patterns = tuple(patterns)
        compiled = []
        for p in self.patterns:
            try:
                compiled.append((p, re.compile(p.regex), p.prefilter))
            except re.error as exc:
                raise ValueError(f"redact pattern {p.regex!r} is not a valid regular expression: {exc}") from None
        self._compiled = tuple(compiled)
        # hint -> indexes of the patterns it lets run; patterns without hints always run
        self._hint_index: dict[str, list[int]] = {}
        for i, p in enumerate(self.patterns):
            for h in p.hints:
                self._hint_index.setdefault(h, []).append(i)
        self._always = [i for i, p in enumerate(self.patterns) if not p.hints]
        self._key = (key_pattern, re.compile(key_pattern.regex)) if key_pattern else None
        self._cached = functools.lru_cache(maxsize=4096)(self._scan)
        self._key_cache: dict[str, bool] = {}

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.patterns]

    def _scan(self, text: str) -> tuple[str, tuple[str, ...]]:
        hits: list[str] = []
        lower = text.lower()
        run = set(self._always)
        for hint, indexes in self._hint_index.items():
            if hint in lower:
                run.update(indexes)
        for i in sorted(run):
            pattern, rx, pre = self._compiled[i]
            if pre is not None and not pre(text):
                continue
            if rx.search(text) is None:
                continue

            def replace(m: re.Match[str], pattern: Pattern = pattern) -> str:
                if pattern.check is not None and not pattern.check(m.group(0)):
                    return m.group(0)
                hits.append(pattern.name)
                if "secret" in m.re.groupindex and m.group("secret") is not None:
                    s, e = m.span("secret")
                    whole = m.group(0)
                    return whole[: s - m.start()] + REDACTED + whole[e - m.start():]
                return REDACTED

            text = rx.sub(replace, text)
        return text, tuple(hits)

    def redact(self, text: str) -> str:
        """`text` with every secret masked; each masked secret counted by pattern name."""
        try:
            out, hits = self._cached(text) if len(text) <= _CACHE_MAX_LEN else self._scan(text)
            if not hits:
                return text  # the caller's own object: "unchanged" is an identity test
            for name in hits:
                _count(name)
            return out
        except Exception as exc:  # noqa: BLE001 - fail closed: the value is not exported as is
            report_internal_error("redaction", exc)
            return FAILED

    def key_is_secret(self, key: str) -> bool:
        if self._key is None:
            return False
        found = self._key_cache.get(key)
        if found is None:
            found = self._key[1].search(key) is not None
            if len(self._key_cache) < 10_000:
                self._key_cache[key] = found
        return found

    def redact_value(self, value: Any) -> Any:
        """An attribute or log-body value with its strings redacted (lists and maps walked)."""
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, (list, tuple)):
            items = [self.redact_value(v) for v in value]
            return value if all(a is b for a, b in zip(items, value)) else type(value)(items)
        if isinstance(value, Mapping):
            new = self.redact_attributes(value)
            return value if new is None else new
        return value

    def redact_attributes(self, attrs: Mapping[str, Any] | None) -> dict[str, Any] | None:
        """A redacted copy of `attrs`, or None when nothing in it had to change (no copy made)."""
        if not attrs:
            return None
        changed: dict[str, Any] | None = None
        for key, value in attrs.items():
            if self.key_is_secret(key) and value not in ("", None, REDACTED):
                _count(self._key[0].name)  # type: ignore[index]
                new: Any = REDACTED if not isinstance(value, (list, tuple)) else [REDACTED for _ in value]
            else:
                new = self.redact_value(value)
            if new is not value:
                if changed is None:
                    changed = dict(attrs)
                changed[key] = new
        return changed


# Process-wide policy and counts --------------------------------------------------------------

_policy: Policy | None = None
REDACTIONS = SelfCounter(semconv.METRIC_REDACTIONS, "{redaction}", "Secrets masked before export, by pattern name (agent_otel.redaction.pattern).")


def build(extra: Sequence[str] | Mapping[str, str] | None = (), *, emails: bool | None = None) -> Policy:
    """The policy for `configure(redact_patterns=extra, redact_emails=emails)`; emails None: env."""
    if emails is None:
        emails = settings.flag(semconv.ENV_REDACT_EMAILS)
    return Policy(patterns_for(extra, emails=emails))


def active() -> Policy:
    """The policy in force (`configure()` installs one; before that, the defaults and env)."""
    global _policy
    if _policy is None:
        _policy = build()
    return _policy


def install(policy: Policy | None) -> None:
    """Make `policy` the process-wide one (None: rebuild from defaults and env at next use)."""
    global _policy
    _policy = policy


def _count(name: str) -> None:
    REDACTIONS.tally(name)
    try:
        REDACTIONS.export(1, {semconv.AGENT_OTEL_REDACTION_PATTERN: name})
    except Exception as exc:  # noqa: BLE001
        report_internal_error("redaction.count", exc)


def counts() -> dict[str, int]:
    """Redactions so far in this process, by pattern name."""
    return REDACTIONS.counts()


def reset_for_tests() -> None:
    REDACTIONS.reset()
    install(None)
