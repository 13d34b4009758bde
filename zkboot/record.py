"""``Record``: an immutable value with equality, a hash and a repr made from its fields.

The start path's values (``Identity``, ``Installation``, ``Plan``, ...) are records rather than
dataclasses: ``dataclasses`` imports ``inspect`` and compiles each class's methods from source at
import time, which together cost every pod's start about 20 ms of CPU, a third of zkboot's own
share.  A subclass names its fields in ``__slots__`` and assigns each once in ``__init__``;
nothing is generated.
"""

TYPE_CHECKING = False  # typing costs every start ~2 ms to import
if TYPE_CHECKING:
    from typing import Self


class Record:
    __slots__: tuple[str, ...] = ()
    hidden: frozenset[str] = frozenset()  # fields the repr leaves out (a password)

    def __setattr__(self, name: str, value: object) -> None:
        if hasattr(self, name):
            raise AttributeError(f"{type(self).__name__}.{name} is read-only")
        object.__setattr__(self, name, value)

    def replace(self, **changes: object) -> "Self":
        """A copy with ``changes`` (field name: value), as ``dataclasses.replace`` makes one; every
        subclass's ``__init__`` takes its fields by their names."""
        unknown = set(changes) - set(self.__slots__)
        if unknown:
            raise TypeError(f"{type(self).__name__} has no field {', '.join(sorted(unknown))}")
        return type(self)(**{name: changes.get(name, getattr(self, name)) for name in self.__slots__})

    def fields(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self) or not isinstance(other, Record):
            return NotImplemented
        return self.fields() == other.fields()

    def __hash__(self) -> int:
        return hash(self.fields())

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__ if name not in self.hidden)
        return f"{type(self).__name__}({shown})"
