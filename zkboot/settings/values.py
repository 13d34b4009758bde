"""The parsers of the start settings' values: text in, value out, or one line saying what was expected.

Each takes a ``Raw`` (the text and where it came from) and raises ``Invalid`` naming that source.
"""

from __future__ import annotations

import ipaddress

from zkboot.options import Invalid, Raw, fail, port

LOG_LEVELS = ("FATAL", "ERROR", "WARN", "INFO", "DEBUG", "TRACE")
LOG_FORMATS = ("text", "json")
LOG_BACKENDS = ("auto", "log4j", "logback")
MEMBERSHIPS = ("static", "dynamic")
CLIENT_AUTH = ("need", "want", "none")
PLAIN_BINDS = ("auto", "all", "loopback")
FIPS_MODES = ("auto", "on", "off")
KNOWN_4LW = (
    "conf", "cons", "crst", "dirs", "dump", "envi", "gtmk", "isro", "mntr", "ruok",
    "srst", "srvr", "stat", "stmk", "wchc", "wchp", "wchs",
)  # fmt: skip
HEAP_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
HEAP_MIN_BYTES = 16 << 20
JAVA_INT_MAX = 2**31 - 1  # ZooKeeper reads these numbers into Java ints
DNS_LABEL_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")
CFG_KEY_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")
# Characters a path must not hold: java.env puts paths in double quotes, where " $ ` \ still act;
# zkServer.sh expands $JVMFLAGS unquoted, where * ? [ are wildcards; and Java's Properties (zoo.cfg)
# reads a backslash as an escape (a trailing one joins the next line).
PATH_SPECIALS = '"$`\\*?['
PATH_EXPECTED = (
    "an absolute path of printable ASCII without white space or any of " + " ".join(PATH_SPECIALS)
    + " (a shell or Java's Properties would read another path)"
)  # fmt: skip
DIGEST_ALGORITHMS = ("auto", "SHA-256", "SHA3-256", "SHA1")


def on_off(raw: Raw) -> bool:
    text = raw.text.strip().lower()
    if text in ("on", "true", "yes", "1", "enabled"):
        return True
    if text in ("off", "false", "no", "0", "disabled"):
        return False
    raise fail(raw, "on or off")


def plain(text: str) -> bool:
    """Printable ASCII: Java's Properties reads zoo.cfg as ISO-8859-1, and control characters end
    or hide lines."""
    return text.isascii() and text.isprintable()


def abs_path(raw: Raw) -> str:
    text = raw.text.strip()
    # ZooKeeper's start scripts split $JVMFLAGS and dataDir on white space: refuse it here.
    if not text.startswith("/") or not plain(text) or any(ch.isspace() or ch in PATH_SPECIALS for ch in text):
        raise fail(raw, PATH_EXPECTED)
    # Normalise trailing slashes so "conf/" and "conf" name the same file paths.
    return text.rstrip("/") or "/"


def optional_abs_path(raw: Raw) -> str | None:
    return abs_path(raw) if raw.text.strip() else None


def optional_port(raw: Raw) -> int | None:
    return port(raw) if raw.text.strip() else None


def heap_bytes(heap: str) -> int | None:
    """Bytes in a JVM size such as ``512M`` or ``2g``; None when it is not one."""
    text = heap.strip()
    unit = text[-1:].lower() if text[-1:].isalpha() else ""
    digits = text[: len(text) - len(unit)]
    if unit not in HEAP_UNITS or not (digits.isascii() and digits.isdigit()) or digits.startswith("0"):
        return None
    return int(digits) * HEAP_UNITS[unit]


def heap_size(raw: Raw) -> str:
    text = raw.text.strip()
    if text.lower() == "auto":
        return "auto"
    size = heap_bytes(text)
    if size is None or size < HEAP_MIN_BYTES:
        raise fail(raw, "a JVM heap size of at least 16M such as 512M, 2G or 1536m, or auto")
    return text


def is_dns_name(text: str) -> bool:
    return len(text) <= 253 and all(
        0 < len(label) <= 63 and set(label) <= DNS_LABEL_CHARS and label[0] != "-" and label[-1] != "-"
        for label in text.split(".")
    )


def dns_name(raw: Raw) -> str | None:
    text = raw.text.strip().rstrip(".").lower()
    if not text:
        return None
    if not is_dns_name(text):
        raise fail(raw, "a DNS name such as zk-0 or zk-0.zk-hs.default.svc.cluster.local")
    return text


def dns_domain(raw: Raw) -> str | None:
    text = raw.text.strip().strip(".").lower()
    if not text:
        return None
    if not is_dns_name(text):
        raise fail(raw, "a DNS domain such as zk-hs.default.svc.cluster.local")
    return text


def word_list(raw: Raw) -> tuple[str, ...]:
    items = [w.strip().lower() for w in raw.text.replace(",", " ").split()]
    for word in items:
        if word != "*" and word not in KNOWN_4LW:
            raise fail(raw, "a comma-separated list of four-letter words (" + ", ".join(KNOWN_4LW) + ") or *")
    return tuple(dict.fromkeys(items))


def cfg_pairs(raw: Raw) -> tuple[tuple[str, str], ...]:
    """``key=value`` items, separated by newlines or ``;`` (values may hold commas)."""
    pairs: list[tuple[str, str]] = []
    for item in raw.text.replace(";", "\n").splitlines():
        item = item.strip()
        if not item:
            continue
        key, sep, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key or not set(key) <= CFG_KEY_CHARS or not key[0].isalnum() or not value:
            raise Invalid(
                f"{raw.source}: {item!r} is not a zoo.cfg entry; expected key=value "
                "with a key such as snapCount and a non-empty value"
            )
        if not plain(value) or "\\" in value:
            seen = "a backslash" if "\\" in value else "a control character" if value.isascii() else "non-ASCII text"
            raise Invalid(
                f"{raw.source}: {item!r}: the value of {key} holds {seen}; expected printable ASCII without a "
                "backslash (Java's Properties, which reads zoo.cfg, takes a backslash as an escape, a trailing "
                "one as joining the next line)"
            )
        pairs.append((key, value))
    return tuple(pairs)


def bind_address(raw: Raw) -> str:
    text = raw.text.strip()
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise fail(raw, "an IP address to listen on, such as 127.0.0.1 (loopback) or 0.0.0.0 (all)") from None


def digest_choice(raw: Raw) -> str:
    text = raw.text.strip()
    found = next((name for name in DIGEST_ALGORITHMS if name.lower() == text.lower()), None)
    if found is None:
        raise fail(raw, "one of " + ", ".join(DIGEST_ALGORITHMS))
    return found
