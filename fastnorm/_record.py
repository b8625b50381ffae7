"""Record: the little a dataclass gave graph.py, optable.py and doctor.py, without the dataclasses module.

`@dataclass` builds each class's methods by exec() at import: with the module's own import that was
~1.5 ms of `import fastnorm` (six classes; 2 vCPU Sapphire Rapids, Python 3.11), a tenth of issue 14's
cold start budget after numpy. A subclass names its fields in order; __init__ stays its own (plain
code, defaults in the signature), and this gives the rest as a dataclass would: repr, == over the
compared fields of the same class, and for a frozen record (hashable, attributes fixed) a hash.
"""


class Record:
    __slots__ = ()
    FIELDS = ()           # every field, in order (the repr)
    COMPARE = None        # the fields == (and a frozen record's hash) look at; None: all of FIELDS

    def _key(self):
        return tuple(getattr(self, f) for f in (self.FIELDS if self.COMPARE is None else self.COMPARE))

    def __repr__(self):
        return "%s(%s)" % (type(self).__qualname__, ", ".join("%s=%r" % (f, getattr(self, f)) for f in self.FIELDS))

    def __eq__(self, other):
        if other.__class__ is self.__class__:
            return self._key() == other._key()
        return NotImplemented

    __hash__ = None       # mutable records are unhashable, as a dataclass with eq is


class FrozenRecord(Record):
    """A record whose attributes are set once, in __init__ (with _set), and never again."""
    __slots__ = ()

    def _set(self, **values):
        self.__dict__.update(values)      # past __setattr__ below

    def __setattr__(self, name, value):
        raise AttributeError("cannot assign to field %r of a frozen %s" % (name, type(self).__name__))

    def __delattr__(self, name):
        raise AttributeError("cannot delete field %r of a frozen %s" % (name, type(self).__name__))

    def __hash__(self):
        return hash(self._key())
