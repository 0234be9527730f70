"""nn.Module: the base class of every layer and model."""

from collections import OrderedDict

from lucid import _C
from lucid._C import Tensor
from lucid.nn.parameter import Parameter


class Module:
    """Base class for layers and models.

    Subclass it, call ``super().__init__()`` first, assign Parameters and
    Modules to attributes (they are registered under those names) and define
    ``forward``. Calling the module runs ``forward``.

    >>> import lucid.nn as nn
    >>> class Tiny(nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.up = nn.ConvTranspose1d(2, 1, kernel_size=2, stride=2)
    ...     def forward(self, x):
    ...         return self.up(x)
    >>> [name for name, _ in Tiny().named_parameters()]
    ['up.weight', 'up.bias']
    """

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    # ---- registration ----
    def _registry(self, what):
        d = self.__dict__.get(what)
        if d is None:
            raise AttributeError(
                f"cannot assign to {type(self).__name__} before Module.__init__() is called; "
                "call super().__init__() first"
            )
        return d

    def __setattr__(self, name, value):
        if isinstance(value, Parameter):
            params = self._registry("_parameters")
            self._modules.pop(name, None)
            self.__dict__.pop(name, None)
            params[name] = value
        elif isinstance(value, Module):
            modules = self._registry("_modules")
            self._parameters.pop(name, None)
            self.__dict__.pop(name, None)
            modules[name] = value
        elif name in self.__dict__.get("_parameters", ()):
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign {type(value).__name__} as parameter '{name}' "
                                "(a Parameter, a Tensor or None is expected)")
            self._parameters[name] = value if value is None or isinstance(value, Parameter) else Parameter(value)
        elif name in self.__dict__.get("_modules", ()):
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} as child module '{name}' "
                                "(a Module or None is expected)")
            self._modules[name] = None
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name):
        d = self.__dict__
        if name in d.get("_parameters", ()):
            return d["_parameters"][name]
        if name in d.get("_modules", ()):
            return d["_modules"][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        if name in self._parameters:
            del self._parameters[name]
        elif name in self._modules:
            del self._modules[name]
        else:
            object.__delattr__(self, name)

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self._parameters) | set(self._modules))

    def _register(self, registry, kind, cls, name, value):
        if not isinstance(name, str) or "." in name or not name:
            raise ValueError(f"{kind} name {name!r} must be a non-empty string without '.'")
        if value is not None and not isinstance(value, cls):
            raise TypeError(f"cannot register {type(value).__name__} as {kind} '{name}' "
                            f"(a {cls.__name__} or None is expected)")
        self.__dict__.pop(name, None)
        self._registry(registry)[name] = value

    def register_parameter(self, name, param):
        """Registers ``param`` (a Parameter or None) under ``name``."""
        self._register("_parameters", "parameter", Parameter, name, param)

    def add_module(self, name, module):
        """Registers ``module`` (a Module or None) under ``name``."""
        self._register("_modules", "module", Module, name, module)

    # ---- calling ----
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} has no forward(); define it in your Module")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # ---- traversal ----
    def named_children(self):
        for name, m in self._modules.items():
            if m is not None:
                yield name, m

    def children(self):
        for _, m in self.named_children():
            yield m

    def named_modules(self, prefix=""):
        """This module and every descendant, depth first, with dotted names."""
        seen = set()

        def walk(mod, pre):
            if id(mod) in seen:
                return
            seen.add(id(mod))
            yield pre, mod
            for name, child in mod.named_children():
                yield from walk(child, f"{pre}.{name}" if pre else name)

        yield from walk(self, prefix)

    def modules(self):
        for _, m in self.named_modules():
            yield m

    def named_parameters(self, prefix="", recurse=True):
        """(dotted name, Parameter) pairs; a parameter shared by two modules is listed once."""
        seen = set()
        mods = self.named_modules(prefix) if recurse else [(prefix, self)]
        for mprefix, mod in mods:
            for name, p in mod._parameters.items():
                if p is None or id(p) in seen:
                    continue
                seen.add(id(p))
                yield (f"{mprefix}.{name}" if mprefix else name), p

    def parameters(self, recurse=True):
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    # ---- state ----
    def state_dict(self):
        """An OrderedDict of dotted name -> Tensor (sharing memory with the parameters, detached)."""
        out = OrderedDict()
        for mprefix, mod in self.named_modules():
            for name, p in mod._parameters.items():
                if p is not None:
                    out[f"{mprefix}.{name}" if mprefix else name] = p.detach()
        return out

    def load_state_dict(self, state_dict, strict=True):
        """Copies values into the parameters in place (converting dtype).

        With ``strict``, missing or unexpected keys raise ValueError; a shape
        mismatch always does. Nothing changes when it raises. Returns
        ``(missing_keys, unexpected_keys)``.
        """
        own = self.state_dict()
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        if strict and (missing or unexpected):
            parts = []
            if missing:
                parts.append("missing keys " + ", ".join(repr(k) for k in missing))
            if unexpected:
                parts.append("unexpected keys " + ", ".join(repr(k) for k in unexpected))
            raise ValueError(f"[{type(self).__name__}.load_state_dict] the state does not match the module: "
                             + "; ".join(parts))
        pairs = []
        for k, dst in own.items():
            if k not in state_dict:
                continue
            src = state_dict[k]
            if not isinstance(src, Tensor):
                src = Tensor(src, dtype=dst.dtype)
            if src.shape != dst.shape:
                raise ValueError(f"[{type(self).__name__}.load_state_dict] '{k}' has shape {src.shape} "
                                 f"in the state but {dst.shape} in the module")
            pairs.append((dst, src))
        for dst, src in pairs:
            _C._copy_into(dst, src)
        return missing, unexpected

    def train(self, mode=True):
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self):
        return self.train(False)

    def zero_grad(self):
        for p in self.parameters():
            p.zero_grad()

    # ---- printing ----
    def extra_repr(self):
        return ""

    def __repr__(self):
        lines = []
        for name, m in self._modules.items():
            sub = repr(m).replace("\n", "\n  ")
            lines.append(f"  ({name}): {sub}")
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not lines:
            return head + ")"
        return head + "\n" + "\n".join(lines) + "\n)"
