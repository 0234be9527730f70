"""Containers."""

from lucid.nn.module import Module


class Sequential(Module):
    """Runs its modules in order, each on the previous output. Children are named '0', '1', ..."""

    def __init__(self, *modules):
        super().__init__()
        for i, m in enumerate(modules):
            self.add_module(str(i), m)

    def append(self, module):
        self.add_module(str(len(self._modules)), module)
        return self

    def __len__(self):
        return len(self._modules)

    def __getitem__(self, i):
        mods = list(self._modules.values())
        return mods[i]

    def __iter__(self):
        return iter(self._modules.values())

    def forward(self, input):
        for m in self._modules.values():
            input = m(input)
        return input
