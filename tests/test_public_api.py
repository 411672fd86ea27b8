"""The curated public API: __all__ is exactly what obskit exports, sorted, and every name exists."""

import types

import obskit

HOOKS = {"load_ipython_extension"}  # IPython calls it for %load_ext obskit; not API


def test_all_is_sorted_and_complete():
    assert obskit.__all__ == sorted(obskit.__all__)
    public = HOOKS ^ {
        name
        for name, value in vars(obskit).items()
        if not name.startswith("_")
        and not (isinstance(value, types.ModuleType) and name not in obskit.__all__)
    }
    assert public == set(obskit.__all__) - {"__version__"}


def test_every_exported_name_resolves():
    for name in obskit.__all__:
        assert getattr(obskit, name) is not None


def test_errors_share_one_base():
    for name in obskit.__all__:
        value = getattr(obskit, name)
        if (
            isinstance(value, type)
            and issubclass(value, Exception)
            and not issubclass(value, Warning)
        ):
            assert issubclass(value, obskit.ObskitError), name
