"""The catalogue of the core's hooks: one module per domain, each hook a documented HookSpec."""
import importlib
import pkgutil


def declare_all(registry) -> None:
    """Declare the hooks of every catalogue module in this package on ``registry``."""
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        registry.declare_module(module, info.name)
